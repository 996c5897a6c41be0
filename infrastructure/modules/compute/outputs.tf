output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "api_service_names" {
  description = "API services by colour: blue, green."
  value       = { for c, s in aws_ecs_service.api : c => s.name }
}

output "worker_service_name" {
  description = "Worker service name."
  value       = aws_ecs_service.worker.name
}

output "task_definition_families" {
  description = "Task definition families: api, worker, migrate."
  value = {
    api     = aws_ecs_task_definition.api.family
    worker  = aws_ecs_task_definition.worker.family
    migrate = aws_ecs_task_definition.migrate.family
  }
}

output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (CloudWatch dimension LoadBalancer)."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the ALB, for alias records."
  value       = aws_lb.this.zone_id
}

output "listener_rule_arn" {
  description = "The weighted blue-green rule p360 deploy moves."
  value       = aws_lb_listener_rule.api.arn
}

output "target_group_arns" {
  description = "Target groups by colour."
  value       = { for c, tg in aws_lb_target_group.api : c => tg.arn }
}

output "target_group_arn_suffixes" {
  description = "Target group ARN suffixes by colour (CloudWatch dimension TargetGroup)."
  value       = { for c, tg in aws_lb_target_group.api : c => tg.arn_suffix }
}

output "cloudfront_domain_name" {
  description = "Domain name of the CloudFront distribution (null without create_cloudfront)."
  value       = one(aws_cloudfront_distribution.this[*].domain_name)
}

output "cloudfront_zone_id" {
  description = "Hosted zone of the CloudFront distribution, for alias records (null without create_cloudfront)."
  value       = one(aws_cloudfront_distribution.this[*].hosted_zone_id)
}

output "cloudfront_distribution_id" {
  description = "ID of the CloudFront distribution (null without create_cloudfront)."
  value       = one(aws_cloudfront_distribution.this[*].id)
}
