# Disaster recovery in us-west-2 (plan: RTO 4 h, RPO 1 h).
#
# Standing by (active = false) this environment holds nothing: what a failover
# needs is kept up to date by production itself in us-west-2 -
#   RDS automated backups and transaction logs (replicated, PITR within minutes),
#   replicas of the creatives, backups and audit-archive buckets,
#   replicas of every secret, a replica of the multi-Region KMS key that wraps
#   tenants' data keys (alias/p360-production-tenant-secrets here as there, so
#   the restored database's tenant secrets open), and the p360 images (ECR
#   replication, environments/shared).
#
# Failover (docs/runbooks/dr-failover.md): terraform apply -var active=true
#   -var restore_source_automated_backups_arn=<production output dr_automated_backups_arn>
#   and the replica buckets (files_bucket_name, audit_checkpoint_bucket_name,
#   files_bucket_kms_key_arn) in failover.auto.tfvars
# builds the whole stack here with the database restored to the latest
# restorable time; Route 53 then fails origin.app and api over to it (SECONDARY
# records), and production's CloudFront distribution follows origin.app here.

module "p360" {
  source = "../../stack"
  count  = var.active ? 1 : 0
  providers = {
    aws        = aws
    aws.global = aws.global
    aws.dr     = aws.dr
  }

  environment        = "dr"
  dr_region          = var.primary_region
  availability_zones = ["us-west-2a", "us-west-2b", "us-west-2c"]
  vpc_cidr           = "10.40.0.0/16"

  zone_name         = var.zone_name
  app_domain_name   = "app.${var.zone_name}"
  api_domain_name   = "api.${var.zone_name}"
  dns_failover_role = "SECONDARY"
  # Production's distribution (global) follows origin.app to this region.
  create_cloudfront    = false
  origin_verify_secret = var.origin_verify_secret

  image_repository_url     = var.image_repository_url
  image_tag                = var.image_tag
  auth_issuers_toml        = var.auth_issuers_toml
  lambda_zip_path          = var.lambda_zip_path
  files_bucket_name        = var.files_bucket_name
  files_bucket_kms_key_arn = var.files_bucket_kms_key_arn
  # Production's checkpoints (replica of its audit archive, same replica key):
  # p360 audit verify checks the restored database against them, and the
  # worker writes new ones there after the failover.
  audit_checkpoint_bucket_name = var.audit_checkpoint_bucket_name
  # No tenant secrets key of its own: a key made here could not open the data
  # keys production wrapped. Production's multi-Region key has a replica here
  # (same key material), and the tasks get the same alias name production's do.
  tenant_secrets_kms_key_alias = var.tenant_secrets_kms_key_alias

  # Production's sizes, so the standby carries production's load.
  api_cpu          = 4096
  api_memory       = 8192
  api_min_count    = 2
  api_max_count    = 10
  worker_cpu       = 4096
  worker_memory    = 8192
  worker_min_count = 2
  worker_max_count = 10

  db_instance_class                       = "db.r5.large"
  db_multi_az                             = true
  db_read_replica_count                   = 0
  db_allocated_storage_gb                 = 200
  db_max_allocated_storage_gb             = 1000
  db_restore_source_automated_backups_arn = var.restore_source_automated_backups_arn
  db_restore_time                         = var.restore_time
  cache_node_type                         = "cache.r6g.large"
  cache_node_count                        = 2

  audit_lock_mode = "COMPLIANCE"
  audit_lock_days = 2555

  # us-west-2's regional controls (GuardDuty, Config, API Gateway logging role).
  enable_account_controls    = true
  manage_api_gateway_account = true

  replicate_to_dr     = false
  deletion_protection = true
  log_retention_days  = 365

  alarm_subscriptions  = var.alarm_subscriptions
  alert_emails         = var.ops_emails
  prometheus_rules_dir = "${path.root}/../../../deploy/monitoring/prometheus/rules"
  # Plan: production's $3,500/month while it runs in place of production.
  monthly_budget_usd  = 3500
  budget_alert_emails = var.ops_emails
}
