# CloudWatch alarms for the plan's thresholds that AWS metrics can see. The
# application-level alerts (integrations, jobs, business) are Prometheus rules
# evaluated by the managed Prometheus workspace (main.tf).
#
#   critical: application down, error rate > 5% for 5 min, response time > 5 s
#             (database failures arrive as RDS events, main.tf)
#   warning:  error rate > 2% for 10 min, response time > 2 s, CPU/memory > 80%,
#             storage < 20% free, certificate expiring within 30 days, dead letters

locals {
  critical = [aws_sns_topic.alarms["critical"].arn]
  warning  = [aws_sns_topic.alarms["warning"].arn]
  tg       = var.target_group_arn_suffixes
}

resource "aws_cloudwatch_metric_alarm" "app_down" {
  alarm_name          = "${var.name}-critical-app-down"
  alarm_description   = "No healthy p360 serve task behind the load balancer (health check /health/ready failing). Runbook: docs/runbooks/incident-response.md"
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  treat_missing_data  = "breaching"
  alarm_actions       = local.critical
  ok_actions          = local.critical

  dynamic "metric_query" {
    for_each = local.tg
    content {
      id = "healthy_${metric_query.key}"
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = "HealthyHostCount"
        period      = 60
        stat        = "Minimum"
        dimensions = {
          LoadBalancer = var.alb_arn_suffix
          TargetGroup  = metric_query.value
        }
      }
    }
  }

  metric_query {
    id          = "healthy"
    expression  = join(" + ", [for c in keys(local.tg) : "FILL(healthy_${c}, 0)"])
    label       = "Healthy API tasks (all colours)"
    return_data = true
  }
}

# One single-metric alarm per colour: Route 53 health checks can follow only
# alarms without metric math (dns module: healthy while either colour has a
# healthy task; no data, e.g. a lost region, counts as unhealthy).
resource "aws_cloudwatch_metric_alarm" "target_group_unhealthy" {
  for_each = local.tg

  alarm_name          = "${var.name}-dns-${each.key}-no-healthy-task"
  alarm_description   = "No healthy task in target group ${each.key}; drives the Route 53 failover health check, pages nobody."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
}

locals {
  error_rate_alarms = {
    critical = { threshold = 5, minutes = 5, topic = local.critical }
    warning  = { threshold = 2, minutes = 10, topic = local.warning }
  }
  latency_alarms = {
    critical = { threshold = 5, topic = local.critical }
    warning  = { threshold = 2, topic = local.warning }
  }
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  for_each = local.error_rate_alarms

  alarm_name          = "${var.name}-${each.key}-error-rate"
  alarm_description   = "5xx responses above ${each.value.threshold}% of requests for ${each.value.minutes} minutes."
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = each.value.minutes
  datapoints_to_alarm = each.value.minutes
  treat_missing_data  = "notBreaching"
  alarm_actions       = each.value.topic
  ok_actions          = each.value.topic

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
    }
  }

  metric_query {
    id = "target_5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
    }
  }

  metric_query {
    id = "elb_5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      period      = 60
      stat        = "Sum"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
    }
  }

  metric_query {
    id          = "error_rate"
    expression  = "IF(requests > 0, 100 * (FILL(target_5xx, 0) + FILL(elb_5xx, 0)) / requests, 0)"
    label       = "5xx share of requests (%)"
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  for_each = local.latency_alarms

  alarm_name          = "${var.name}-${each.key}-response-time"
  alarm_description   = "p95 response time above ${each.value.threshold} s for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  extended_statistic  = "p95"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = each.value.topic
  ok_actions          = each.value.topic
}

# ECS CPU and memory of every service.
locals {
  ecs_utilisation = {
    for pair in setproduct(var.ecs_service_names, ["CPUUtilization", "MemoryUtilization"]) :
    "${pair[0]}-${lower(trimsuffix(pair[1], "Utilization"))}" => { service = pair[0], metric = pair[1] }
  }
}

resource "aws_cloudwatch_metric_alarm" "ecs_utilisation" {
  for_each = local.ecs_utilisation

  alarm_name          = "${var.name}-warning-${each.key}"
  alarm_description   = "${each.value.metric} of ECS service ${each.value.service} above 80% for 10 minutes."
  namespace           = "AWS/ECS"
  metric_name         = each.value.metric
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = each.value.service }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  for_each = toset(var.db_instance_identifiers)

  alarm_name          = "${var.name}-warning-rds-cpu-${each.key}"
  alarm_description   = "CPU of RDS instance ${each.key} above 80% for 10 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = each.key }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "rds_storage" {
  for_each = toset(var.db_instance_identifiers)

  alarm_name          = "${var.name}-warning-rds-storage-${each.key}"
  alarm_description   = "Less than 20% of the allocated storage of ${each.key} is free."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = each.key }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = var.db_allocated_storage_gb * 1073741824 * 0.2
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "redis" {
  for_each = {
    for pair in setproduct(var.cache_cluster_ids, ["EngineCPUUtilization", "DatabaseMemoryUsagePercentage"]) :
    "${pair[0]}-${pair[1]}" => { cluster = pair[0], metric = pair[1] }
  }

  alarm_name          = "${var.name}-warning-redis-${each.key}"
  alarm_description   = "${each.value.metric} of ${each.value.cluster} above 80% for 10 minutes."
  namespace           = "AWS/ElastiCache"
  metric_name         = each.value.metric
  dimensions          = { CacheClusterId = each.value.cluster }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = var.dlq_names

  alarm_name          = "${var.name}-warning-dead-letters-${each.key}"
  alarm_description   = "Messages of queue ${each.key} landed in its dead-letter queue ${each.value}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = var.queue_names

  alarm_name          = "${var.name}-warning-queue-age-${each.key}"
  alarm_description   = "The oldest message of ${each.value} waits more than 15 minutes: workers are behind or down."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 900
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = toset(var.lambda_function_names)

  alarm_name          = "${var.name}-warning-lambda-errors-${each.key}"
  alarm_description   = "Lambda ${each.key} failed: landed files may not be announced to the ingest queue."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.warning
  ok_actions          = local.warning
}

resource "aws_cloudwatch_metric_alarm" "certificate_expiry" {
  for_each = var.certificate_arns

  alarm_name          = "${var.name}-warning-certificate-${each.key}"
  alarm_description   = "ACM certificate ${each.key} expires within 30 days (automatic DNS renewal has not happened)."
  namespace           = "AWS/CertificateManager"
  metric_name         = "DaysToExpiry"
  dimensions          = { CertificateArn = each.value }
  statistic           = "Minimum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 30
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.warning
  ok_actions          = local.warning
}
