# Staging: integration testing and UAT on anonymised production-like data.
# Plan: Fargate 2 vCPU / 4 GB, RDS db.t3.small Multi-AZ, S3 Standard-IA, ~$1,200/month.

module "p360" {
  source = "../../stack"
  providers = {
    aws        = aws
    aws.global = aws.global
    aws.dr     = aws.dr
  }

  environment        = "staging"
  dr_region          = var.dr_region
  availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  vpc_cidr           = "10.20.0.0/16"
  # The traffic-heavy services only (image pulls, logs, job polling, metrics).
  interface_endpoints = ["ecr.api", "ecr.dkr", "logs", "sqs", "aps-workspaces"]

  zone_name       = var.zone_name
  app_domain_name = "app.staging.${var.zone_name}"
  api_domain_name = "api.staging.${var.zone_name}"

  image_repository_url = var.image_repository_url
  image_tag            = var.image_tag
  auth_issuers_toml    = var.auth_issuers_toml
  lambda_zip_path      = var.lambda_zip_path
  # The Trade Desk's sandbox API: no live spend outside production.
  ttd_base_url = "https://apisb.thetradedesk.com"

  api_cpu             = 2048
  api_memory          = 4096
  api_min_count       = 1
  api_max_count       = 3
  worker_cpu          = 2048
  worker_memory       = 4096
  worker_min_count    = 1
  worker_max_count    = 3
  worker_spot_percent = 50

  db_instance_class       = "db.t3.small"
  db_multi_az             = true
  db_read_replica_count   = 0
  db_allocated_storage_gb = 50
  cache_node_type         = "cache.t4g.small"
  cache_node_count        = 2

  # Plan: S3 Standard-IA (30 days is S3's earliest transition).
  s3_ia_transition_days = 30
  audit_lock_mode       = "GOVERNANCE"
  audit_lock_days       = 90

  # One account for all environments: production owns the account-level
  # controls of us-east-1 (GuardDuty, Config, the multi-region CloudTrail);
  # environments/shared sets API Gateway's logging role.
  enable_account_controls = false

  replicate_to_dr     = false
  deletion_protection = true
  log_retention_days  = 90
  # Monthly, as production's: a backup that never was restored is not known to restore.
  enable_restore_test = true

  alarm_subscriptions  = var.alarm_subscriptions
  alert_emails         = var.ops_emails
  prometheus_rules_dir = "${path.root}/../../../deploy/monitoring/prometheus/rules"
  monthly_budget_usd   = 1200
  budget_alert_emails  = var.ops_emails
}
