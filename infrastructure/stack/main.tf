# One P360 environment: every module wired together. environments/* call this
# with their sizes; nothing here is specific to one environment.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "p360-${var.environment}"

  app_domain    = var.app_domain_name
  origin_domain = "origin.${var.app_domain_name}"
  # environments/shared's boundary: the CI deploy roles create roles only with it.
  permissions_boundary_arn = var.permissions_boundary_name == null ? null : "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:policy/${var.permissions_boundary_name}"
  # Where TTD fetches creative files: the app's GET /creatives/{id}, through
  # the distribution's /creatives/* behaviour (compute module, cdn.tf).
  creative_base_url = coalesce(var.ttd_creative_base_url, "https://${var.app_domain_name}/creatives")
  api_domain        = var.api_domain_name
  # This environment's ALB under a name never failed over (the deploy's slot URLs).
  slots_domain = "${var.environment}.slots.${var.zone_name}"

  # After a DR failover the application serves files from the replicas of the
  # primary region's buckets instead of this environment's own (empty) ones.
  external_buckets = var.files_bucket_name == null ? {} : { files = "arn:aws:s3:::${var.files_bucket_name}" }
  # ... and keeps its audit checkpoints in (and verifies the restored database
  # against) the replica of the primary's audit archive: only the worker
  # writes checkpoints, so the API role gets no access to it.
  external_audit_bucket = var.audit_checkpoint_bucket_name == null ? {} : { audit-checkpoints = "arn:aws:s3:::${var.audit_checkpoint_bucket_name}" }

  # The ALB's per-slot test listeners (compute), open to this VPC only (networking).
  slot_test_ports = { blue = 8081, green = 8082 }

  # Reports read from a read replica (database.read_url) only where there are
  # replicas: a task whose secret has no value does not start, so environments
  # without them do not name the (empty) database-read secret.
  read_replica_secret_environment = var.db_read_replica_count > 0 ? {
    P360_DATABASE__READ_URL = module.security.secret_arns["database-read"]
  } : {}

  # What ECS injects into the p360 containers from Secrets Manager. The ttd
  # secret is JSON: {"login": ..., "password": ..., "partner_id": ...}; the
  # bombora secret {"client_id": ..., "client_secret": ...}.
  secret_environment = merge({
    P360_DATABASE__URL          = module.security.secret_arns["database"]
    P360_DATABASE__APP_URL      = module.security.secret_arns["database-app"]
    P360_REDIS__URL             = module.security.secret_arns["redis"]
    P360_TTD__LOGIN             = "${module.security.secret_arns["ttd"]}:login::"
    P360_TTD__PASSWORD          = "${module.security.secret_arns["ttd"]}:password::"
    P360_TTD__PARTNER_ID        = "${module.security.secret_arns["ttd"]}:partner_id::"
    P360_BOMBORA__CLIENT_ID     = "${module.security.secret_arns["bombora"]}:client_id::"
    P360_BOMBORA__CLIENT_SECRET = "${module.security.secret_arns["bombora"]}:client_secret::"
    P360_AUDIT__CHECKPOINT_KEY  = module.security.secret_arns["audit-checkpoint"]
  }, local.read_replica_secret_environment)

  prometheus_rule_files = {
    for f in fileset(var.prometheus_rules_dir, "*.rules.yml") : f => file("${var.prometheus_rules_dir}/${f}")
  }
}

module "security" {
  source = "../modules/security"
  providers = {
    aws        = aws
    aws.global = aws.global
    aws.dr     = aws.dr
  }
  permissions_boundary_arn = local.permissions_boundary_arn

  name                         = local.name
  environment                  = var.environment
  waf_rate_limit_per_5_minutes = var.waf_rate_limit_per_5_minutes
  deploy_probe_sources         = [for ip in module.networking.nat_public_ips : "${ip}/32"]
  slots_domain_name            = local.slots_domain
  origin_domain_name           = local.origin_domain
  log_retention_days           = var.log_retention_days
  secret_recovery_window_days  = var.secret_recovery_window_days
  secret_replica_region        = var.replicate_to_dr ? var.dr_region : null
  create_cloudfront_web_acl    = var.create_cloudfront
  enable_account_controls      = var.enable_account_controls
  access_logs_bucket_id        = module.storage.access_logs_bucket_id
  # The trail records object-level events of these buckets; roles get only the keys named below.
  bucket_arns        = merge(module.storage.bucket_arns, local.external_buckets, local.external_audit_bucket, var.audited_bucket_arns)
  api_bucket_keys    = concat(["creatives", "uploads", "exports"], keys(local.external_buckets))
  worker_bucket_keys = concat(["creatives", "uploads", "exports", "backups", "audit-archive"], keys(local.external_buckets), keys(local.external_audit_bucket))
  # The one-off migrate task (p360 restore-check, audit verify): read only,
  # the files bucket and the checkpoints' bucket the tasks are configured with.
  migrate_bucket_keys = [
    var.files_bucket_name == null ? "creatives" : "files",
    var.audit_checkpoint_bucket_name == null ? "audit-archive" : "audit-checkpoints",
  ]
  # The application sends dead letters itself, and re-drives them on retry.
  queue_arns               = concat(values(module.messaging.queue_arns), values(module.messaging.dlq_arns))
  topic_arns               = values(module.messaging.topic_arns)
  prometheus_workspace_arn = module.monitoring.prometheus_workspace_arn
  extra_kms_key_arns       = var.files_bucket_kms_key_arn == null ? [] : [var.files_bucket_kms_key_arn]
  # Its own tenant secrets key (replicated with the secrets), or, after a DR
  # failover, production's replica of it.
  tenant_secrets_key_alias = var.tenant_secrets_kms_key_alias
}

module "networking" {
  source                   = "../modules/networking"
  permissions_boundary_arn = local.permissions_boundary_arn

  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  interface_endpoints     = var.interface_endpoints
  slot_test_ports         = values(local.slot_test_ports)
  kms_key_arn             = module.security.kms_key_arn
  flow_log_retention_days = var.log_retention_days
}

module "storage" {
  source = "../modules/storage"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }
  permissions_boundary_arn = local.permissions_boundary_arn

  name               = local.name
  kms_key_arn        = module.security.kms_key_arn
  force_destroy      = var.force_destroy
  ia_transition_days = var.s3_ia_transition_days
  audit_lock_mode    = var.audit_lock_mode
  audit_lock_days    = var.audit_lock_days
  replicate_to_dr    = var.replicate_to_dr
  # Replication alarms: failed objects to the warning topic (this region);
  # the DR-region topic of the latency alarms gets the warning subscribers.
  alarm_topic_arns       = [module.monitoring.alarm_topic_arns["warning"]]
  dr_alarm_subscriptions = [for s in var.alarm_subscriptions : { protocol = s.protocol, endpoint = s.endpoint } if s.severity == "warning"]
}

module "database" {
  source = "../modules/database"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }
  permissions_boundary_arn = local.permissions_boundary_arn

  name                                 = local.name
  subnet_ids                           = module.networking.data_subnet_ids
  security_group_id                    = module.networking.security_group_ids["database"]
  kms_key_arn                          = module.security.kms_key_arn
  instance_class                       = var.db_instance_class
  multi_az                             = var.db_multi_az
  read_replica_count                   = var.db_read_replica_count
  replica_availability_zones           = var.availability_zones
  allocated_storage_gb                 = var.db_allocated_storage_gb
  max_allocated_storage_gb             = var.db_max_allocated_storage_gb
  backup_retention_days                = var.db_backup_retention_days
  deletion_protection                  = var.deletion_protection
  replicate_backups_to_dr              = var.replicate_to_dr
  create_from_backup                   = var.db_restore_source_automated_backups_arn != null
  restore_source_automated_backups_arn = var.db_restore_source_automated_backups_arn
  restore_time                         = var.db_restore_time
}

module "cache" {
  source = "../modules/cache"

  name               = local.name
  subnet_ids         = module.networking.data_subnet_ids
  security_group_id  = module.networking.security_group_ids["cache"]
  kms_key_arn        = module.security.kms_key_arn
  url_secret_arn     = module.security.secret_arns["redis"]
  node_type          = var.cache_node_type
  node_count         = var.cache_node_count
  log_retention_days = var.log_retention_days
}

module "messaging" {
  source                   = "../modules/messaging"
  permissions_boundary_arn = local.permissions_boundary_arn

  name               = local.name
  kms_key_arn        = module.security.kms_key_arn
  alert_emails       = var.alert_emails
  lambda_zip_path    = var.lambda_zip_path
  subnet_ids         = module.networking.private_subnet_ids
  security_group_id  = module.networking.security_group_ids["lambda"]
  landing_bucket_id  = module.storage.bucket_ids["uploads"]
  landing_bucket_arn = module.storage.bucket_arns["uploads"]
  log_retention_days = var.log_retention_days
}

module "dns" {
  source = "../modules/dns"
  providers = {
    aws        = aws
    aws.global = aws.global
  }

  zone_name               = var.zone_name
  app_domain_name         = local.app_domain
  origin_domain_name      = local.origin_domain
  api_domain_name         = local.api_domain
  slots_domain_name       = local.slots_domain
  failover_role           = var.dns_failover_role
  create_app_record       = var.create_cloudfront
  health_alarm_names      = module.monitoring.target_group_alarm_names
  alb_dns_name            = module.compute.alb_dns_name
  alb_zone_id             = module.compute.alb_zone_id
  cloudfront_domain_name  = module.compute.cloudfront_domain_name
  cloudfront_zone_id      = module.compute.cloudfront_zone_id
  api_gateway_domain_name = module.api_gateway.regional_domain_name
  api_gateway_zone_id     = module.api_gateway.regional_zone_id
}

module "compute" {
  source = "../modules/compute"

  name                   = local.name
  vpc_id                 = module.networking.vpc_id
  public_subnet_ids      = module.networking.public_subnet_ids
  private_subnet_ids     = module.networking.private_subnet_ids
  alb_security_group_ids = [module.networking.security_group_ids["alb"], module.networking.security_group_ids["alb_slot_test"]]
  app_security_group_id  = module.networking.security_group_ids["app"]
  slot_test_ports        = local.slot_test_ports
  slot_test_domain_name  = local.slots_domain

  image_repository_url  = var.image_repository_url
  image_tag             = var.image_tag
  execution_role_arn    = module.security.execution_role_arn
  api_task_role_arn     = module.security.api_task_role_arn
  worker_task_role_arn  = module.security.worker_task_role_arn
  migrate_task_role_arn = module.security.migrate_task_role_arn

  api_cpu                = var.api_cpu
  api_memory             = var.api_memory
  api_min_count          = var.api_min_count
  api_max_count          = var.api_max_count
  worker_cpu             = var.worker_cpu
  worker_memory          = var.worker_memory
  worker_min_count       = var.worker_min_count
  worker_max_count       = var.worker_max_count
  worker_spot_percent    = var.worker_spot_percent
  worker_queue_names     = [for q in var.job_queues : module.messaging.queue_names[q]]
  auth_issuers_toml      = var.auth_issuers_toml
  files_bucket           = coalesce(var.files_bucket_name, module.storage.bucket_ids["creatives"])
  cloudfront_price_class = var.cloudfront_price_class
  create_cloudfront      = var.create_cloudfront
  deletion_protection    = var.deletion_protection

  # Configuration keys of the application (unknown P360_* keys stop it).
  environment_variables = {
    P360_JOBS__BACKEND           = "sqs"
    P360_JOBS__SQS__QUEUE_PREFIX = "${local.name}-"
    P360_JOBS__SQS__REGION       = data.aws_region.current.name
    P360_TTD__BASE_URL           = var.ttd_base_url
    P360_TTD__DATA_URL           = var.ttd_data_url
    P360_TTD__CREATIVE_BASE_URL  = local.creative_base_url
    P360_BOMBORA__BASE_URL       = var.bombora_base_url
    # Partner files land in the uploads bucket; the landing Lambda announces
    # them on the ingest queue and the worker reads them from there.
    P360_STORAGE__LANDING_BUCKET = module.storage.bucket_ids["uploads"]
    # The ALB (in this VPC) is trusted to say who the client is, and
    # CloudFront's edge server is the one hop in front of it: rate limits and
    # audit events see the viewer's address (platform::http::client_ip).
    P360_HTTP__TRUSTED_PROXIES = jsonencode([var.vpc_cidr])
    P360_HTTP__FORWARDED_HOPS  = "1"
    # Audit checkpoints go to the Object Lock bucket the worker may write
    # (after a DR failover, the replica of the primary's, which holds the
    # checkpoints the restored database is verified against).
    P360_AUDIT__CHECKPOINT_BUCKET = coalesce(var.audit_checkpoint_bucket_name, module.storage.bucket_ids["audit-archive"])
    # The KMS key that wraps tenants' data keys (security module,
    # tenant_secrets.tf): required in production mode, so every p360
    # container gets it (migrate too, which has no permission on it). Its
    # alias name, the same in the DR region, where it names production's
    # replica; the region the name is resolved in is this one.
    P360_SECRETS__KMS_KEY_ID = module.security.tenant_secrets_kms_key_id
    P360_SECRETS__KMS_REGION = data.aws_region.current.name
  }
  secret_environment         = local.secret_environment
  log_group_names            = module.monitoring.log_group_names
  adot_container_definitions = module.monitoring.adot_container_definitions

  certificate_arn                = module.dns.regional_certificate_arn
  cloudfront_certificate_arn     = module.dns.cloudfront_certificate_arn
  domain_name                    = local.app_domain
  origin_domain_name             = local.origin_domain
  origin_verify_secret           = var.origin_verify_secret
  origin_verify_secret_arn       = module.security.secret_arns["origin-verify"]
  regional_web_acl_arn           = module.security.regional_web_acl_arn
  cloudfront_web_acl_arn         = module.security.cloudfront_web_acl_arn
  access_logs_bucket_id          = module.storage.access_logs_bucket_id
  access_logs_bucket_domain_name = module.storage.access_logs_bucket_domain_name
}

module "api_gateway" {
  source                   = "../modules/api_gateway"
  permissions_boundary_arn = local.permissions_boundary_arn

  name                        = "${local.name}-external"
  backend_domain_name         = local.app_domain
  domain_name                 = local.api_domain
  certificate_arn             = module.dns.regional_certificate_arn
  web_acl_arn                 = module.security.regional_web_acl_arn
  kms_key_arn                 = module.security.kms_key_arn
  api_keys                    = var.api_keys
  log_retention_days          = var.log_retention_days
  manage_account_logging_role = var.manage_api_gateway_account
}

module "monitoring" {
  source = "../modules/monitoring"

  name                      = local.name
  environment               = var.environment
  kms_key_arn               = module.security.kms_key_arn
  log_retention_days        = var.log_retention_days
  alarm_subscriptions       = var.alarm_subscriptions
  prometheus_rule_files     = local.prometheus_rule_files
  alb_arn_suffix            = module.compute.alb_arn_suffix
  target_group_arn_suffixes = module.compute.target_group_arn_suffixes
  ecs_cluster_name          = module.compute.cluster_name
  ecs_service_names         = concat(values(module.compute.api_service_names), [module.compute.worker_service_name])
  db_instance_identifiers   = concat([module.database.primary_identifier], module.database.replica_identifiers)
  db_allocated_storage_gb   = var.db_allocated_storage_gb
  cache_cluster_ids         = module.cache.member_clusters
  queue_names               = module.messaging.queue_names
  dlq_names                 = module.messaging.dlq_names
  lambda_function_names     = [module.messaging.lambda_function_name]
  certificate_arns          = { regional = module.dns.regional_certificate_arn }
}

module "budget" {
  source = "../modules/budget"

  name              = "${local.name}-monthly"
  monthly_limit_usd = var.monthly_budget_usd
  cost_filters      = { TagKeyValue = [format("user:Environment$%s", var.environment)] }
  alert_emails      = var.budget_alert_emails
  alert_topic_arns  = [module.monitoring.alarm_topic_arns["warning"]]
}

# The monthly restore test (docs/runbooks/dr-failover.md): the latest restorable
# time of the primary into a scratch instance, p360 restore-check --record
# against it, the scratch instance deleted; scheduled, alarmed on failure.
module "restore_test" {
  source                   = "../modules/restore_test"
  count                    = var.enable_restore_test ? 1 : 0
  permissions_boundary_arn = local.permissions_boundary_arn

  name                          = local.name
  environment                   = var.environment
  source_db_instance_identifier = module.database.primary_identifier
  source_db_instance_arn        = module.database.primary_arn
  source_db_address             = module.database.primary_address
  db_subnet_group_name          = module.database.subnet_group_name
  db_parameter_group_name       = module.database.parameter_group_name
  db_security_group_id          = module.networking.security_group_ids["database"]
  scratch_instance_class        = var.restore_test_instance_class
  kms_key_arn                   = module.security.kms_key_arn

  cluster_name           = module.compute.cluster_name
  subnet_ids             = module.networking.private_subnet_ids
  task_security_group_id = module.networking.security_group_ids["app"]
  image                  = module.compute.image
  container_environment  = module.compute.container_environment
  secret_environment     = local.secret_environment
  files_bucket_name      = coalesce(var.files_bucket_name, module.storage.bucket_ids["creatives"])
  bucket_kms_key_arns    = concat([module.security.kms_key_arn], var.files_bucket_kms_key_arn == null ? [] : [var.files_bucket_kms_key_arn])

  schedule_expression         = var.restore_test_schedule
  log_retention_days          = var.log_retention_days
  secret_recovery_window_days = var.secret_recovery_window_days
  alarm_topic_arns            = [module.monitoring.alarm_topic_arns["warning"]]
}
