output "app_url" {
  description = "URL of the application."
  value       = "https://${var.app_domain_name}"
}

output "api_url" {
  description = "URL of the external API."
  value       = "https://${var.api_domain_name}"
}

output "deploy" {
  description = "What scripts/deploy and p360 deploy need: cluster, services, task families, target groups, the weighted rule, subnets and security group of one-off tasks."
  value = {
    cluster                = module.compute.cluster_name
    api_services           = module.compute.api_service_names
    worker_service         = module.compute.worker_service_name
    task_families          = module.compute.task_definition_families
    target_groups          = module.compute.target_group_arns
    listener_rule_arn      = module.compute.listener_rule_arn
    subnets                = module.networking.private_subnet_ids
    security_group         = module.networking.security_group_ids["app"]
    cloudfront_id          = module.compute.cloudfront_distribution_id
    alarm_topic_arns       = module.monitoring.alarm_topic_arns
    prometheus_query_url   = module.monitoring.prometheus_endpoint
    database_address       = module.database.primary_address
    database_replicas      = module.database.replica_addresses
    database_master_secret = module.database.master_user_secret_arn
    database_url_secret    = module.security.secret_arns["database"]
  }
}

output "dr_automated_backups_arn" {
  description = "Replicated RDS automated backups in the DR region (input of environments/dr on failover)."
  value       = module.database.dr_automated_backups_arn
}

output "dr_replicas" {
  description = "DR-region replica buckets and their KMS key (inputs of environments/dr on failover)."
  value = {
    bucket_ids  = module.storage.replica_bucket_ids
    kms_key_arn = module.storage.replica_kms_key_arn
  }
}

output "nat_public_ips" {
  description = "Egress addresses to give partners that allow-list callers."
  value       = module.networking.nat_public_ips
}

output "bucket_ids" {
  description = "S3 buckets by purpose."
  value       = module.storage.bucket_ids
}

output "queue_urls" {
  description = "SQS queues by name."
  value       = module.messaging.queue_urls
}

output "secret_arns" {
  description = "Secrets Manager secrets by name."
  value       = module.security.secret_arns
}
