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
  description = "Task definition families: api (by slot: blue, green), worker, migrate."
  value = {
    api     = { for c, td in aws_ecs_task_definition.api : c => td.family }
    worker  = aws_ecs_task_definition.worker.family
    migrate = aws_ecs_task_definition.migrate.family
  }
}

output "task_definition_arns" {
  description = "The revisions this apply registered, on image_tag: api (by slot: blue, green), worker."
  value = {
    api    = { for c, td in aws_ecs_task_definition.api : c => td.arn }
    worker = aws_ecs_task_definition.worker.arn
  }
}

output "image" {
  description = "The image (repository:tag) of the revisions this apply registered."
  value       = local.image
}

output "slot_capacity" {
  description = "Task count bounds of a started API slot (scripts/ecs-slot): min, max."
  value       = { min = var.api_min_count, max = var.api_max_count }
}

output "worker_capacity" {
  description = "Task count bounds of the started worker service (scripts/ecs-slot): min, max."
  value       = { min = var.worker_min_count, max = var.worker_max_count }
}

output "worker_min_count" {
  description = "Minimum worker tasks (scripts/ecs-slot starts the worker with this many when it has none)."
  value       = var.worker_min_count
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

output "listener_arn" {
  description = "The HTTPS listener (deploy.alb.listener_arn)."
  value       = aws_lb_listener.https.arn
}

output "slot_urls" {
  description = "Each slot's own URL, the test listeners (reachable from inside the VPC only): blue, green."
  value       = { for c, l in aws_lb_listener.slot_test : c => "https://${var.slot_test_domain_name}:${l.port}" }
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

output "container_environment" {
  description = "The plain environment every p360 container gets (name/value pairs): for one-off tasks defined elsewhere, e.g. the restore_test module's."
  value       = local.common_environment_all
}
