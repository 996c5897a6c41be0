# ALB with HTTPS only, reachable only from CloudFront (security group on the
# CloudFront origin-facing prefix list, plus a secret origin header checked by
# the listener rule), two target groups and one weighted forward rule; and one
# test listener per slot (slot_test_ports), which the networking module opens
# to this VPC only: `p360 deploy` checks a slot there before it gets traffic.

resource "aws_lb" "this" {
  # checkov:skip=CKV2_AWS_76:The attached ACL (security module) carries AWSManagedRulesKnownBadInputsRuleSet, the Log4j rules; checkov cannot follow the ACL across module boundaries, and its extra demand, AnonymousIpList, would block customers on corporate VPNs.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = var.alb_security_group_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  idle_timeout               = 60

  access_logs {
    bucket  = var.access_logs_bucket_id
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_wafv2_web_acl_association" "alb" {
  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.regional_web_acl_arn
}

resource "aws_lb_target_group" "api" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB; targets are private Fargate tasks reached over the VPC only.
  for_each = local.colours

  name                 = "${var.name}-${each.key}"
  port                 = var.app_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay_seconds

  health_check {
    path                = "/health/ready"
    matcher             = "200"
    interval            = local.health_check.interval
    timeout             = local.health_check.timeout
    healthy_threshold   = local.health_check.healthy_threshold
    unhealthy_threshold = local.health_check.unhealthy_threshold
  }

  tags = { Colour = each.key }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  # Anything that did not come through CloudFront. ELBv2 fixed responses
  # allow only text/plain, text/css, text/html, application/javascript and
  # application/json (terraform validate refused application/problem+json in
  # every environment): the body is still a problem document.
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"type\":\"urn:p360:problem:forbidden\",\"title\":\"Forbidden\",\"status\":403}"
      status_code  = "403"
    }
  }
}

# /metrics is for the collector inside the task (127.0.0.1), never for the internet.
resource "aws_lb_listener_rule" "hide_metrics" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 1

  condition {
    path_pattern {
      values = ["/metrics", "/metrics/*"]
    }
  }

  action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"type\":\"urn:p360:problem:not-found\",\"title\":\"Not Found\",\"status\":404}"
      status_code  = "404"
    }
  }
}

# The secret header CloudFront adds to every origin request. A DR stack takes
# production's value (origin_verify_secret), so that the one distribution can
# fail over to it; otherwise it is generated here.
resource "random_password" "origin_verify" {
  count = var.origin_verify_secret == null ? 1 : 0

  length  = 48
  special = false
}

locals {
  origin_verify = var.origin_verify_secret == null ? random_password.origin_verify[0].result : var.origin_verify_secret
}

resource "aws_secretsmanager_secret_version" "origin_verify" {
  secret_id     = var.origin_verify_secret_arn
  secret_string = local.origin_verify
}

# The blue-green switch: one rule forwarding to both target groups by weight.
# `p360 deploy` moves the weights (5 -> 25 -> 50 -> 100) and back on rollback.
resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    http_header {
      http_header_name = "X-Origin-Verify"
      values           = [local.origin_verify]
    }
  }

  action {
    type = "forward"
    forward {
      target_group {
        arn    = aws_lb_target_group.api["blue"].arn
        weight = 100
      }
      target_group {
        arn    = aws_lb_target_group.api["green"].arn
        weight = 0
      }
      stickiness {
        enabled  = false
        duration = 1
      }
    }
  }

  lifecycle {
    ignore_changes = [action]
  }
}

# Each slot's own address, whatever the weights: every request to port
# slot_test_ports[slot] goes to that slot's target group (/metrics included).
# p360 deploy's readiness checks and smoke suite use them (deploy.blue_url,
# deploy.green_url). No origin header: the security group admits only this
# VPC (its NAT gateways' addresses, networking module).
resource "aws_lb_listener" "slot_test" {
  for_each = local.colours

  load_balancer_arn = aws_lb.this.arn
  port              = var.slot_test_ports[each.key]
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api[each.key].arn
  }

  tags = { Colour = each.key, Purpose = "deploy-test" }
}
