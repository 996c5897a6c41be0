# One CloudWatch dashboard with the AWS-side view of the environment. The
# application and business views are Grafana dashboards (deploy/monitoring/grafana).

locals {
  alb_dim = ["LoadBalancer", var.alb_arn_suffix]

  widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "Requests and 5xx"
        region = local.region
        stat   = "Sum"
        period = 60
        metrics = [
          concat(["AWS/ApplicationELB", "RequestCount"], local.alb_dim),
          concat(["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"], local.alb_dim),
          concat(["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"], local.alb_dim),
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "Response time (p50, p95, p99)"
        region = local.region
        period = 60
        metrics = [
          concat(["AWS/ApplicationELB", "TargetResponseTime"], local.alb_dim, [{ stat = "p50" }]),
          concat(["AWS/ApplicationELB", "TargetResponseTime"], local.alb_dim, [{ stat = "p95" }]),
          concat(["AWS/ApplicationELB", "TargetResponseTime"], local.alb_dim, [{ stat = "p99" }]),
        ]
        annotations = { horizontal = [{ label = "warning", value = 2 }, { label = "critical", value = 5 }] }
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title   = "ECS CPU (%)"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = [for s in var.ecs_service_names : ["AWS/ECS", "CPUUtilization", "ClusterName", var.ecs_cluster_name, "ServiceName", s]]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title   = "ECS memory (%)"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = [for s in var.ecs_service_names : ["AWS/ECS", "MemoryUtilization", "ClusterName", var.ecs_cluster_name, "ServiceName", s]]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 8, height = 6
      properties = {
        title   = "RDS CPU (%)"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = [for id in var.db_instance_identifiers : ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", id]]
      }
    },
    {
      type = "metric", x = 8, y = 12, width = 8, height = 6
      properties = {
        title   = "RDS connections"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = [for id in var.db_instance_identifiers : ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", id]]
      }
    },
    {
      type = "metric", x = 16, y = 12, width = 8, height = 6
      properties = {
        title   = "RDS free storage (bytes)"
        region  = local.region
        stat    = "Minimum"
        period  = 300
        metrics = [for id in var.db_instance_identifiers : ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", id]]
      }
    },
    {
      type = "metric", x = 0, y = 18, width = 12, height = 6
      properties = {
        title   = "SQS backlog"
        region  = local.region
        stat    = "Maximum"
        period  = 60
        metrics = [for k, q in merge(var.queue_names, var.dlq_names) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
      }
    },
    {
      type = "metric", x = 12, y = 18, width = 12, height = 6
      properties = {
        title   = "Redis engine CPU and memory (%)"
        region  = local.region
        stat    = "Average"
        period  = 60
        metrics = flatten([for c in var.cache_cluster_ids : [["AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", c], ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", c]]])
      }
    },
    {
      type = "alarm", x = 0, y = 24, width = 24, height = 4
      properties = {
        title = "Alarms"
        alarms = concat(
          [aws_cloudwatch_metric_alarm.app_down.arn],
          [for a in aws_cloudwatch_metric_alarm.error_rate : a.arn],
          [for a in aws_cloudwatch_metric_alarm.latency : a.arn],
        )
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
