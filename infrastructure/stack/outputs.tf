output "app_url" {
  description = "URL of the application."
  value       = "https://${var.app_domain_name}"
}

output "api_url" {
  description = "URL of the external API."
  value       = "https://${var.api_domain_name}"
}

output "deploy" {
  description = "What scripts/deploy, scripts/ecs-slot and p360 deploy need: the ALB (listener, weighted rule, target groups, each slot's test URL), the ECS cluster, services, task definitions and sizes, the Prometheus query endpoint, the backups bucket, the database secret, the deploy runner's security group."
  value = {
    region                 = data.aws_region.current.name
    cluster                = module.compute.cluster_name
    api_services           = module.compute.api_service_names
    worker_service         = module.compute.worker_service_name
    task_families          = module.compute.task_definition_families
    task_definitions       = module.compute.task_definition_arns
    image                  = module.compute.image
    slot_capacity          = module.compute.slot_capacity
    worker_min_count       = module.compute.worker_min_count
    worker_capacity        = module.compute.worker_capacity
    listener_arn           = module.compute.listener_arn
    listener_rule_arn      = module.compute.listener_rule_arn
    target_groups          = module.compute.target_group_arns
    slot_urls              = module.compute.slot_urls
    subnets                = module.networking.private_subnet_ids
    security_group         = module.networking.security_group_ids["app"]
    runner_security_group  = module.networking.security_group_ids["deploy"]
    cloudfront_id          = module.compute.cloudfront_distribution_id
    alarm_topic_arns       = module.monitoring.alarm_topic_arns
    prometheus_query_url   = module.monitoring.prometheus_endpoint
    prometheus_region      = module.monitoring.prometheus_region
    backups_bucket         = module.storage.bucket_ids["backups"]
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
  description = "DR-region replica buckets and their KMS key (inputs of environments/dr on failover), the replica of the tenant secrets key (environments/dr names it by its alias), and the DR-region topic of the replication latency alarms."
  value = {
    bucket_ids                 = module.storage.replica_bucket_ids
    kms_key_arn                = module.storage.replica_kms_key_arn
    alarm_topic_arn            = module.storage.dr_alarm_topic_arn
    tenant_secrets_kms_key_arn = module.security.tenant_secrets_kms_replica_key_arn
    tenant_secrets_kms_alias   = module.security.tenant_secrets_kms_replica_key_arn == null ? null : module.security.tenant_secrets_kms_key_id
  }
}

output "tenant_secrets_kms_key" {
  description = "The KMS key that wraps tenants' data keys: what the tasks are given (P360_SECRETS__KMS_KEY_ID, the alias name) and the key's ARN (null in a DR stack, which uses production's replica)."
  value = {
    kms_key_id = module.security.tenant_secrets_kms_key_id
    arn        = module.security.tenant_secrets_kms_key_arn
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

output "creative_base_url" {
  description = "Base URL of the creative files TTD fetches (ttd.creative_base_url): {base}/{creative id}."
  value       = local.creative_base_url
}

output "restore_test" {
  description = "The monthly restore test (null where enable_restore_test is off): its state machine (aws stepfunctions start-execution --state-machine-arn), schedule, scratch instance and the endpoint its secret must name, the secret, the task family and log groups."
  value = var.enable_restore_test ? {
    state_machine_arn           = module.restore_test[0].state_machine_arn
    schedule_name               = module.restore_test[0].schedule_name
    schedule_expression         = module.restore_test[0].schedule_expression
    scratch_instance_identifier = module.restore_test[0].scratch_instance_identifier
    scratch_address             = module.restore_test[0].scratch_address
    database_secret_arn         = module.restore_test[0].database_secret_arn
    task_definition_family      = module.restore_test[0].task_definition_family
    log_group_names             = module.restore_test[0].log_group_names
  } : null
}
