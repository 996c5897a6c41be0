# Production: live customer operations.
# Plan: Fargate 4 vCPU / 8 GB with autoscaling, RDS db.r5.large Multi-AZ with
# 2 read replicas, S3 Standard with lifecycle policies, ~$3,500/month.
# DR: RDS automated backups, creatives/backups/audit archive and every secret
# replicated to us-west-2 (environments/dr builds the standby from them).

module "p360" {
  source = "../../stack"
  providers = {
    aws        = aws
    aws.global = aws.global
    aws.dr     = aws.dr
  }

  environment        = "production"
  dr_region          = var.dr_region
  availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  vpc_cidr           = "10.30.0.0/16"

  zone_name         = var.zone_name
  app_domain_name   = "app.${var.zone_name}"
  api_domain_name   = "api.${var.zone_name}"
  dns_failover_role = "PRIMARY"

  image_repository_url = var.image_repository_url
  image_tag            = var.image_tag
  auth_issuers_toml    = var.auth_issuers_toml
  lambda_zip_path      = var.lambda_zip_path

  api_cpu          = 4096
  api_memory       = 8192
  api_min_count    = 2
  api_max_count    = 10
  worker_cpu       = 4096
  worker_memory    = 8192
  worker_min_count = 2
  worker_max_count = 10

  db_instance_class = "db.r5.large"
  db_multi_az       = true
  # The plan's two read replicas for reporting: reports (delivery, account
  # view, pacing) read from a replica through database.read_url (the
  # database-read secret, the first replica's address: RDS has no reader
  # endpoint for them; the second is where the secret moves if the first
  # fails), so their queries stay off the primary.
  db_read_replica_count       = 2
  db_allocated_storage_gb     = 200
  db_max_allocated_storage_gb = 1000
  cache_node_type             = "cache.r6g.large"
  cache_node_count            = 2

  s3_ia_transition_days = 90
  audit_lock_mode       = "COMPLIANCE"
  audit_lock_days       = 2555

  replicate_to_dr     = true
  deletion_protection = true
  log_retention_days  = 365
  # Monthly: the latest restorable time into p360-production-restore-test,
  # p360 restore-check --record, deleted (docs/runbooks/dr-failover.md).
  enable_restore_test = true

  alarm_subscriptions  = var.alarm_subscriptions
  alert_emails         = var.ops_emails
  prometheus_rules_dir = "${path.root}/../../../deploy/monitoring/prometheus/rules"
  # The Terraform state bucket (bootstrap/backend) is read and written by
  # every pipeline: its object-level access is recorded by this trail.
  audited_bucket_arns = { terraform-state = "arn:aws:s3:::p360-terraform-state" }

  monthly_budget_usd  = 3500
  budget_alert_emails = var.ops_emails
}
