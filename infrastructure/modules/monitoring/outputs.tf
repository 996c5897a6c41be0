output "log_group_names" {
  description = "Log groups by role: api, worker, migrate, adot."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "alarm_topic_arns" {
  description = "Alarm topics: critical, warning."
  value       = { for k, t in aws_sns_topic.alarms : k => t.arn }
}

output "prometheus_workspace_arn" {
  description = "ARN of the managed Prometheus workspace."
  value       = aws_prometheus_workspace.this.arn
}

output "prometheus_region" {
  description = "Region of the managed Prometheus workspace: p360 deploy signs its queries for it (SigV4, service aps)."
  value       = local.region
}

output "prometheus_endpoint" {
  description = "Query endpoint of the managed Prometheus workspace (a Grafana data source)."
  value       = aws_prometheus_workspace.this.prometheus_endpoint
}

output "adot_container_definitions" {
  description = "ADOT collector sidecar container definitions by task definition: api-blue and api-green (scrape /metrics, series labelled slot=\"blue\"|\"green\"), worker."
  value       = local.adot_container_definitions
}

output "target_group_alarm_names" {
  description = "Single-metric alarms, one per colour, in ALARM when the colour has no healthy task (Route 53 failover health checks)."
  value       = [for a in aws_cloudwatch_metric_alarm.target_group_unhealthy : a.alarm_name]
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
