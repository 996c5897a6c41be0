# CloudFront in front of the ALB: TLS at the edge, WAF (CLOUDFRONT scope),
# security headers, no caching of API responses, and the secret origin header
# without which the ALB answers 403. The origin is a DNS name (origin.<app>)
# that fails over from the primary's ALB to the DR stack's, so one distribution
# serves both; a DR stack creates none (create_cloudfront = false).

# AWS-managed policies by their fixed, documented ids ("Use managed cache
# policies" / "Use managed origin request policies", CloudFront Developer
# Guide): the same in every account, so no look-up at plan time.
locals {
  cache_policy_caching_disabled      = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
  cache_policy_caching_optimized     = "658327ea-f89d-4fab-a63d-7e88639e58f6" # Managed-CachingOptimized
  origin_request_all_viewer_not_host = "b689b0a8-53d0-40ab-baf2-68738e2966ac" # Managed-AllViewerExceptHostHeader
}

resource "aws_cloudfront_response_headers_policy" "security" {
  count = var.create_cloudfront ? 1 : 0

  name    = "${var.name}-security-headers"
  comment = "HSTS, nosniff, frame denial, referrer policy"

  security_headers_config {
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV2_AWS_47:The attached ACL (security module) carries AWSManagedRulesKnownBadInputsRuleSet, the Log4j rules; checkov cannot follow the ACL across module boundaries, and its extra demand, AnonymousIpList, would block customers on corporate VPNs.
  # checkov:skip=CKV_AWS_310:One origin by design: its name (origin.<app>) fails over in Route 53 from the primary's ALB to the DR stack's ALB, so a second origin group would point at the same name.
  # checkov:skip=CKV_AWS_305:The origin is an API; "/" is answered by the application itself.
  # checkov:skip=CKV_AWS_374:B2B customers and agency staff sign in from anywhere; access is controlled by authentication, not geography.
  count = var.create_cloudfront ? 1 : 0

  enabled         = true
  is_ipv6_enabled = true
  comment         = "${var.name} application"
  aliases         = [var.domain_name]
  price_class     = var.cloudfront_price_class
  web_acl_id      = var.cloudfront_web_acl_arn
  http_version    = "http2and3"

  origin {
    origin_id   = "alb"
    domain_name = var.origin_domain_name

    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "https-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = 60
      origin_keepalive_timeout = 5
    }

    custom_header {
      name  = "X-Origin-Verify"
      value = local.origin_verify
    }
  }

  default_cache_behavior {
    target_origin_id           = "alb"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cache_policy_caching_disabled
    origin_request_policy_id   = local.origin_request_all_viewer_not_host
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security[0].id
  }

  # Creative files, which The Trade Desk fetches at the URLs the sync sends
  # (ttd.creative_base_url = https://<app domain>/creatives): the application's
  # public GET /creatives/{id}, cached at the edge for as long as its
  # Cache-Control allows. No viewer headers, cookies or query strings reach
  # the origin here: the route needs none.
  ordered_cache_behavior {
    path_pattern               = "/creatives/*"
    target_origin_id           = "alb"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cache_policy_caching_optimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security[0].id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.cloudfront_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  logging_config {
    bucket          = var.access_logs_bucket_domain_name
    prefix          = "cloudfront/"
    include_cookies = false
  }
}
