# Route 53 records and ACM certificates of one environment, in a public hosted
# zone that already exists (delegated once per account; see
# docs/runbooks/environment-setup.md).
#
#   app.<zone>         -> CloudFront            (certificate in us-east-1; only where the distribution is)
#   origin.app.<zone>  -> ALB, CloudFront's origin  (regional certificate)
#   api.<zone>         -> API Gateway           (regional certificate)
#   <env>.slots.<zone> -> this environment's ALB, never failed over: the
#                         per-slot test listeners p360 deploy checks a new
#                         slot at (regional certificate)
#
# In a primary/DR pair (failover_role) origin and api are failover records:
# PRIMARY here with a health check that follows the primary's "no healthy task"
# alarms (and counts missing data, a lost region, as unhealthy), SECONDARY
# in the DR environment. CloudFront is global, so the one distribution follows
# the origin record to whichever region is healthy.

data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}

data "aws_region" "current" {}

resource "aws_acm_certificate" "regional" {
  domain_name               = var.origin_domain_name
  subject_alternative_names = [var.api_domain_name, var.slots_domain_name]
  validation_method         = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "cloudfront" {
  provider = aws.global
  count    = var.create_app_record ? 1 : 0

  domain_name       = var.app_domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  validation_records = merge(
    { for o in aws_acm_certificate.regional.domain_validation_options : "regional-${o.domain_name}" => o },
    [for c in aws_acm_certificate.cloudfront : { for o in c.domain_validation_options : "cloudfront-${o.domain_name}" => o }]...
  )
}

# The same validation CNAME serves a name's certificates in every region of the
# account, hence allow_overwrite: a DR stack re-asserts what production made.
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
  count    = var.create_app_record ? 1 : 0

  certificate_arn         = aws_acm_certificate.cloudfront[0].arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "cloudfront-")]
}

# ---------------------------------------------------------------------------
# Records

# One child check per colour's alarm (Route 53 follows only single-metric
# alarms); the primary is healthy while at least one colour is.
resource "aws_route53_health_check" "colour" {
  for_each = var.failover_role == "PRIMARY" ? toset(var.health_alarm_names) : toset([])

  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = each.value
  cloudwatch_alarm_region         = data.aws_region.current.name
  insufficient_data_health_status = "Unhealthy"

  tags = { Name = each.value }
}

resource "aws_route53_health_check" "primary" {
  count = var.failover_role == "PRIMARY" ? 1 : 0

  type                   = "CALCULATED"
  child_healthchecks     = [for c in aws_route53_health_check.colour : c.id]
  child_health_threshold = 1

  tags = { Name = "${var.origin_domain_name} primary healthy" }

  lifecycle {
    precondition {
      condition     = length(var.health_alarm_names) > 0
      error_message = "A PRIMARY failover record needs health_alarm_names."
    }
  }
}

locals {
  regional_aliases = {
    origin = { name = var.origin_domain_name, target = var.alb_dns_name, zone = var.alb_zone_id }
    api    = { name = var.api_domain_name, target = var.api_gateway_domain_name, zone = var.api_gateway_zone_id }
  }
}

resource "aws_route53_record" "regional" {
  # checkov:skip=CKV2_AWS_23:Alias targets are this stack's ALB and API Gateway domain, passed in from the compute and api_gateway modules.
  for_each = local.regional_aliases

  zone_id         = data.aws_route53_zone.this.zone_id
  name            = each.value.name
  type            = "A"
  set_identifier  = var.failover_role == null ? null : "${each.key}-${lower(var.failover_role)}"
  health_check_id = var.failover_role == "PRIMARY" ? aws_route53_health_check.primary[0].id : null

  alias {
    name                   = each.value.target
    zone_id                = each.value.zone
    evaluate_target_health = true
  }

  dynamic "failover_routing_policy" {
    for_each = var.failover_role == null ? [] : [var.failover_role]
    content {
      type = failover_routing_policy.value
    }
  }
}

resource "aws_route53_record" "app" {
  # checkov:skip=CKV2_AWS_23:The alias target is this stack's CloudFront distribution, passed in from the compute module.
  count = var.create_app_record ? 1 : 0

  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.app_domain_name
  type    = "A"

  alias {
    name                   = var.cloudfront_domain_name
    zone_id                = var.cloudfront_zone_id
    evaluate_target_health = false
  }
}

# This environment's ALB by a name of its own: origin_domain_name may point at
# the other region (failover), but a deployment must reach the slots of the
# environment it deploys to.
resource "aws_route53_record" "slots" {
  # checkov:skip=CKV2_AWS_23:The alias target is this stack's ALB, passed in from the compute module.
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.slots_domain_name
  type    = "A"

  alias {
    name                   = var.alb_dns_name
    zone_id                = var.alb_zone_id
    evaluate_target_health = false
  }
}
