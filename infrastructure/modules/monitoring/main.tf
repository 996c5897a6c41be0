# Observability of one environment:
#   - log groups for every container role, with retention and KMS
#   - two SNS alarm topics: critical (pages) and warning (chat/e-mail)
#   - CloudWatch alarms for the plan's thresholds on AWS metrics (alarms.tf)
#   - a CloudWatch dashboard (dashboard.tf)
#   - Amazon Managed Service for Prometheus with the repository's alert rules
#     (deploy/monitoring/prometheus) and an alert manager routing to the topics
#   - the ADOT collector sidecar: OTLP traces -> X-Ray, /metrics -> Prometheus

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  region = data.aws_region.current.name
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["api", "worker", "migrate", "adot"])

  name              = "/p360/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# ---------------------------------------------------------------------------
# Alarm topics

resource "aws_sns_topic" "alarms" {
  for_each = toset(["critical", "warning"])

  name              = "${var.name}-alarms-${each.key}"
  kms_master_key_id = var.kms_key_arn
}

data "aws_iam_policy_document" "alarms" {
  for_each = aws_sns_topic.alarms

  statement {
    sid       = "AlarmSourcesPublish"
    actions   = ["sns:Publish"]
    resources = [each.value.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "aps.amazonaws.com", "events.rds.amazonaws.com", "budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  for_each = aws_sns_topic.alarms

  arn    = each.value.arn
  policy = data.aws_iam_policy_document.alarms[each.key].json
}

resource "aws_sns_topic_subscription" "alarms" {
  for_each = { for s in var.alarm_subscriptions : "${s.severity}-${s.protocol}-${s.endpoint}" => s }

  topic_arn = aws_sns_topic.alarms[each.value.severity].arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# ---------------------------------------------------------------------------
# Database events (failover, failure, availability, low storage) page at once.

resource "aws_db_event_subscription" "database" {
  name        = "${var.name}-database"
  sns_topic   = aws_sns_topic.alarms["critical"].arn
  source_type = "db-instance"
  source_ids  = var.db_instance_identifiers
  event_categories = [
    "availability",
    "failover",
    "failure",
    "low storage",
    "recovery",
  ]
}

# ---------------------------------------------------------------------------
# Amazon Managed Service for Prometheus: the same rule files promtool tests in
# CI (deploy/monitoring/prometheus/rules) are loaded as rule-group namespaces.

resource "aws_cloudwatch_log_group" "prometheus" {
  name              = "/aws/prometheus/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_prometheus_workspace" "this" {
  alias       = var.name
  kms_key_arn = var.kms_key_arn

  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.prometheus.arn}:*"
  }
}

resource "aws_prometheus_rule_group_namespace" "this" {
  for_each = var.prometheus_rule_files

  name         = trimsuffix(basename(each.key), ".yml")
  workspace_id = aws_prometheus_workspace.this.id
  data         = each.value
}

resource "aws_prometheus_alert_manager_definition" "this" {
  workspace_id = aws_prometheus_workspace.this.id
  definition = yamlencode({
    alertmanager_config = yamlencode({
      route = {
        receiver        = "critical"
        group_by        = ["alertname", "environment"]
        group_wait      = "30s"
        group_interval  = "5m"
        repeat_interval = "4h"
        routes = [
          { matchers = ["severity=\"warning\""], receiver = "warning" },
        ]
      }
      receivers = [
        for sev in ["critical", "warning"] : {
          name = sev
          sns_configs = [{
            topic_arn = aws_sns_topic.alarms[sev].arn
            sigv4     = { region = local.region }
            subject   = "[${upper(sev)}] ${var.name}"
          }]
        }
      ]
    })
  })
}

# ---------------------------------------------------------------------------
# X-Ray sampling: 5% of requests plus one a second, never the health checks.

resource "aws_xray_sampling_rule" "health" {
  rule_name      = "${var.name}-health"
  priority       = 100
  reservoir_size = 0
  fixed_rate     = 0
  url_path       = "/health/*"
  host           = "*"
  http_method    = "*"
  service_name   = "*"
  service_type   = "*"
  resource_arn   = "*"
  version        = 1
}

resource "aws_xray_sampling_rule" "default" {
  rule_name      = "${var.name}-default"
  priority       = 1000
  reservoir_size = 1
  fixed_rate     = var.trace_sample_rate
  url_path       = "*"
  host           = "*"
  http_method    = "*"
  service_name   = "p360-*"
  service_type   = "*"
  resource_arn   = "*"
  version        = 1
}

# ---------------------------------------------------------------------------
# ADOT collector sidecar, configured inline (AOT_CONFIG_CONTENT). One
# configuration per task definition: api-blue and api-green scrape /metrics and
# label every series with their slot (slot="blue"|"green"), so that
# `p360 deploy` selects one slot's series (deploy.prometheus_matchers,
# job="p360",slot="$slot"); the worker only forwards traces.

locals {
  adot_roles = {
    "api-blue"  = { service = "p360-api", slot = "blue", scrape = true }
    "api-green" = { service = "p360-api", slot = "green", scrape = true }
    worker      = { service = "p360-worker", slot = "", scrape = false }
  }

  adot_config = {
    for role, r in local.adot_roles : role => templatefile("${path.module}/adot-config.yaml.tftpl", {
      region          = local.region
      remote_write    = "${aws_prometheus_workspace.this.prometheus_endpoint}api/v1/remote_write"
      scrape_metrics  = r.scrape
      metrics_port    = var.app_port
      environment     = var.environment
      service         = r.service
      slot            = r.slot
      emf_namespace   = var.metrics_namespace
      emf_log_group   = aws_cloudwatch_log_group.this["adot"].name
      scrape_interval = "30s"
    })
  }

  adot_container_definitions = {
    for role, config in local.adot_config : role => {
      name                   = "aws-otel-collector"
      image                  = var.adot_image
      essential              = false
      readonlyRootFilesystem = true
      environment            = [{ name = "AOT_CONFIG_CONTENT", value = config }]
      portMappings           = []
      mountPoints            = []
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this["adot"].name
          awslogs-region        = local.region
          awslogs-stream-prefix = role
        }
      }
    }
  }
}
