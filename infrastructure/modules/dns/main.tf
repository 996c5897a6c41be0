# Route 53 records and ACM certificates of one environment, in a hosted zone
# that already exists (delegated once per account; see docs/runbooks/environment-setup.md).
#
#   app.<zone>          -> CloudFront            (certificate in us-east-1)
#   origin.app.<zone>   -> ALB                   (regional certificate)
#   api.<zone>          -> API Gateway           (regional certificate)
#
# In a primary/DR pair the public names are failover records: PRIMARY with a
# health check on /health/ready, SECONDARY in the DR environment.

data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}

resource "aws_acm_certificate" "regional" {
  domain_name               = var.origin_domain_name
  subject_alternative_names = [var.api_domain_name]
  validation_method         = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "cloudfront" {
  provider = aws.global

  domain_name       = var.app_domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  validation_records = merge(
    { for o in aws_acm_certificate.regional.domain_validation_options : "regional-${o.domain_name}" => o },
    { for o in aws_acm_certificate.cloudfront.domain_validation_options : "cloudfront-${o.domain_name}" => o },
  )
}

resource "aws_route53_record" "validation" {
  for_each = local.validation_records

  zone_id         = data.aws_route53_zone.this.zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "regional" {
  certificate_arn         = aws_acm_certificate.regional.arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "regional-")]
}

resource "aws_acm_certificate_validation" "cloudfront" {
  provider = aws.global

  certificate_arn         = aws_acm_certificate.cloudfront.arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "cloudfront-")]
}

# ---------------------------------------------------------------------------
# Records

resource "aws_route53_health_check" "app" {
  count = var.failover_role == "PRIMARY" ? 1 : 0

  fqdn              = var.app_domain_name
  type              = "HTTPS"
  port              = 443
  resource_path     = "/health/ready"
  request_interval  = 30
  failure_threshold = 3
  measure_latency   = true

  tags = { Name = "${var.app_domain_name} ready" }
}

locals {
  # Records are only created once their targets are known (after the first apply of compute/api_gateway).
  public_aliases = {
    app = { name = var.app_domain_name, target = var.cloudfront_domain_name, zone = var.cloudfront_zone_id }
    api = { name = var.api_domain_name, target = var.api_gateway_domain_name, zone = var.api_gateway_zone_id }
  }
}

resource "aws_route53_record" "origin" {
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.origin_domain_name
  type    = "A"

  alias {
    name                   = var.alb_dns_name
    zone_id                = var.alb_zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "public" {
  # checkov:skip=CKV2_AWS_23:Alias targets are the CloudFront distribution and the API Gateway domain of this stack, passed in from the compute and api_gateway modules.
  for_each = local.public_aliases

  zone_id        = data.aws_route53_zone.this.zone_id
  name           = each.value.name
  type           = "A"
  set_identifier = var.failover_role == null ? null : "${each.key}-${lower(var.failover_role)}"
  # The API is served by the same application, so the app's health check decides for both.
  health_check_id = var.failover_role == "PRIMARY" ? aws_route53_health_check.app[0].id : null

  alias {
    name    = each.value.target
    zone_id = each.value.zone
    # Route 53 cannot evaluate a CloudFront target's health; the health check above does.
    evaluate_target_health = false
  }

  dynamic "failover_routing_policy" {
    for_each = var.failover_role == null ? [] : [var.failover_role]
    content {
      type = failover_routing_policy.value
    }
  }
}
