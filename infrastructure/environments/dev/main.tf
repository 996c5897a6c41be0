# Development: feature work and unit testing on synthetic data.
# Plan: Fargate 1 vCPU / 2 GB, RDS db.t3.micro, S3 Standard, ~$500/month.

module "p360" {
  source = "../../stack"
  providers = {
    aws        = aws
    aws.global = aws.global
    aws.dr     = aws.dr
  }

  environment        = "dev"
  dr_region          = var.dr_region
  availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  vpc_cidr           = "10.10.0.0/16"
  single_nat_gateway = true
  # No interface endpoints (11 x 3 zones was ~$240 a month, half the budget):
  # dev's little AWS API traffic goes through its one NAT gateway.
  interface_endpoints = []

  zone_name       = var.zone_name
  app_domain_name = "app.dev.${var.zone_name}"
  api_domain_name = "api.dev.${var.zone_name}"

  image_repository_url = var.image_repository_url
  image_tag            = var.image_tag
  auth_issuers_toml    = var.auth_issuers_toml
  lambda_zip_path      = var.lambda_zip_path
  # The Trade Desk's sandbox API: no live spend outside production.
  ttd_base_url = "https://apisb.thetradedesk.com"

  api_cpu             = 1024
  api_memory          = 2048
  api_min_count       = 1
  api_max_count       = 2
  worker_cpu          = 1024
  worker_memory       = 2048
  worker_min_count    = 1
  worker_max_count    = 2
  worker_spot_percent = 50

  db_instance_class       = "db.t3.micro"
  db_multi_az             = false
  db_read_replica_count   = 0
  db_allocated_storage_gb = 20
  # Backups and point-in-time recovery as everywhere; only the window is shorter.
  db_backup_retention_days = 7
  cache_node_type          = "cache.t4g.micro"
  cache_node_count         = 1

  audit_lock_mode = "GOVERNANCE"
  audit_lock_days = 30

  # One account for all environments: production owns the account-level
  # controls of us-east-1 (GuardDuty, Config, the multi-region CloudTrail);
  # environments/shared sets API Gateway's logging role.
  enable_account_controls = false

  replicate_to_dr             = false
  deletion_protection         = false
  force_destroy               = true
  secret_recovery_window_days = 0
  log_retention_days          = 30

  alarm_subscriptions  = var.alarm_subscriptions
  alert_emails         = var.ops_emails
  prometheus_rules_dir = "${path.root}/../../../deploy/monitoring/prometheus/rules"
  monthly_budget_usd   = 500
  budget_alert_emails  = var.ops_emails
}
