# ---- identity and placement

variable "environment" {
  type        = string
  description = "Environment name: dev, staging, production or dr."

  validation {
    condition     = contains(["dev", "staging", "production", "dr"], var.environment)
    error_message = "environment must be dev, staging, production or dr."
  }
}

variable "dr_region" {
  type        = string
  description = "Disaster-recovery region (the aws.dr provider's region)."
  default     = "us-west-2"
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the VPC (three in the plan)."
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC (a /16)."
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway instead of one per zone (dev)."
  default     = false
}

# ---- names

variable "zone_name" {
  type        = string
  description = "Existing public Route 53 zone, e.g. p360.example."
}

variable "app_domain_name" {
  type        = string
  description = "Host name of the application, e.g. app.p360.example or app.dev.p360.example."
}

variable "api_domain_name" {
  type        = string
  description = "Host name of the external API, e.g. api.p360.example."
}

variable "create_cloudfront" {
  type        = bool
  description = "Create the CloudFront distribution and the app record (false in the DR stack: production's distribution fails over to it)."
  default     = true
}

variable "origin_verify_secret" {
  type        = string
  description = "DR only: production's X-Origin-Verify value (secret p360-production/origin-verify, replicated to the DR region); null: generate."
  default     = null
  sensitive   = true
}

variable "dns_failover_role" {
  type        = string
  description = "null, or PRIMARY/SECONDARY when this environment is half of a primary/DR pair."
  default     = null
}

# ---- application

variable "image_repository_url" {
  type        = string
  description = "ECR repository of the p360 image (environments/shared output)."
}

variable "image_tag" {
  type        = string
  description = "Image tag task definitions start from; releases are rolled out by p360 deploy."
  default     = "latest-release"
}

variable "auth_issuers_toml" {
  type        = string
  description = "Trusted OIDC issuers as a TOML inline array (P360_AUTH__ISSUERS)."
  default     = ""
}

variable "api_cpu" {
  type        = number
  description = "CPU units of an API task (1024 = 1 vCPU)."
}

variable "api_memory" {
  type        = number
  description = "Memory of an API task, in MiB."
}

variable "api_min_count" {
  type        = number
  description = "Minimum API tasks per colour."
}

variable "api_max_count" {
  type        = number
  description = "Maximum API tasks per colour."
}

variable "worker_cpu" {
  type        = number
  description = "CPU units of a worker task."
}

variable "worker_memory" {
  type        = number
  description = "Memory of a worker task, in MiB."
}

variable "worker_min_count" {
  type        = number
  description = "Minimum worker tasks."
}

variable "worker_max_count" {
  type        = number
  description = "Maximum worker tasks."
}

variable "worker_spot_percent" {
  type        = number
  description = "Share of extra worker tasks on Fargate Spot."
  default     = 0
}

variable "cloudfront_price_class" {
  type        = string
  description = "CloudFront price class."
  default     = "PriceClass_100"
}

variable "lambda_zip_path" {
  type        = string
  description = "Zip of the landing Lambda built by the pipeline (make lambda)."
  default     = "../../../target/lambda/landing-lambda/bootstrap.zip"
}

variable "job_queues" {
  type        = list(string)
  description = "Job queues of the application (Job::QUEUE values) whose SQS backlog scales the workers; each must be a queue of the messaging module."
  default     = ["default", "activation", "ingest"]
}

variable "ttd_base_url" {
  type        = string
  description = "The Trade Desk API base URL (ttd.base_url; required in production mode)."
  default     = "https://api.thetradedesk.com"
}

variable "ttd_data_url" {
  type        = string
  description = "The Trade Desk Data API host (ttd.data_url; required in production mode), where audiences' first-party IP data goes."
  default     = "https://use-data.adsrvr.org"
}

variable "bombora_base_url" {
  type        = string
  description = "Bombora's API base URL (bombora.base_url; required in production mode), where the worker fetches the weekly Company Surge."
  default     = "https://api.bombora.com"
}

variable "ttd_creative_base_url" {
  type        = string
  description = "Public base URL TTD fetches creative files from, {base}/{creative id} (ttd.creative_base_url); null: https://<app domain>/creatives."
  default     = null
}

variable "files_bucket_name" {
  type        = string
  description = "DR failover only: bucket the application keeps its files in (the DR replica of the primary's creatives bucket); null: this environment's own."
  default     = null
}

variable "files_bucket_kms_key_arn" {
  type        = string
  description = "DR failover only: KMS key of files_bucket_name and audit_checkpoint_bucket_name, the primary's replica buckets (production storage output replica_kms_key_arn)."
  default     = null
}

variable "audit_checkpoint_bucket_name" {
  type        = string
  description = "DR failover only: bucket of the audit checkpoints (audit.checkpoint_bucket), the DR replica of the primary's audit-archive bucket, encrypted with files_bucket_kms_key_arn; null: this environment's own audit archive."
  default     = null
}

variable "tenant_secrets_kms_key_alias" {
  type        = string
  description = "DR failover only: alias of the KMS key that wraps tenants' data keys in the restored database, production's multi-Region replica in this region (alias/p360-production-tenant-secrets). Null: the environment creates its own tenant secrets key."
  default     = null
}

variable "api_keys" {
  type        = map(string)
  description = "External API keys: consumer name => usage plan (standard or partner)."
  default     = {}
}

# ---- data

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
}

variable "db_multi_az" {
  type        = bool
  description = "RDS Multi-AZ standby."
}

variable "db_read_replica_count" {
  type        = number
  description = "RDS read replicas."
  default     = 0
}

variable "db_allocated_storage_gb" {
  type        = number
  description = "RDS initial storage, in GiB."
  default     = 20
}

variable "db_max_allocated_storage_gb" {
  type        = number
  description = "RDS storage autoscaling ceiling, in GiB."
  default     = 200
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated backups and point-in-time recovery."
  default     = 30
}

variable "db_restore_source_automated_backups_arn" {
  type        = string
  description = "DR failover only: replicated automated backups to build the primary from (null: a new, empty database)."
  default     = null
}

variable "db_restore_time" {
  type        = string
  description = "DR failover only: the UTC time (RFC 3339) db_restore_source_automated_backups_arn is restored to; null: the latest restorable time."
  default     = null
}

variable "cache_node_type" {
  type        = string
  description = "ElastiCache node type."
  default     = "cache.t4g.micro"
}

variable "cache_node_count" {
  type        = number
  description = "ElastiCache nodes (2 or more: automatic failover)."
  default     = 1
}

variable "s3_ia_transition_days" {
  type        = number
  description = "Creatives move to STANDARD_IA after this many days (null: stay in STANDARD)."
  default     = null
}

variable "audit_lock_mode" {
  type        = string
  description = "Object Lock mode of the audit archive (COMPLIANCE or GOVERNANCE)."
  default     = "COMPLIANCE"
}

variable "audit_lock_days" {
  type        = number
  description = "Object Lock retention of the audit archive, in days."
  default     = 2555
}

# ---- resilience and safety

variable "replicate_to_dr" {
  type        = bool
  description = "Replicate RDS backups, critical buckets and secrets to the DR region."
  default     = false
}

variable "deletion_protection" {
  type        = bool
  description = "Deletion protection on RDS and the ALB."
  default     = true
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy non-empty buckets (dev only)."
  default     = false
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Recovery window of deleted secrets (0 in dev)."
  default     = 30
}

variable "enable_account_controls" {
  type        = bool
  description = "Own the account-level controls (GuardDuty, CloudTrail, Config, API Gateway logging role)."
  default     = true
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Set API Gateway's account-wide CloudWatch role in this region (environments/shared does it for us-east-1)."
  default     = false
}

variable "waf_rate_limit_per_5_minutes" {
  type        = number
  description = "Requests per client IP per 5 minutes before WAF blocks."
  default     = 2000
}

variable "enable_restore_test" {
  type        = bool
  description = "Restore the database's latest backup into a scratch instance on a schedule and check it with p360 restore-check (restore_test module)."
  default     = false
}

variable "restore_test_schedule" {
  type        = string
  description = "EventBridge Scheduler expression of the restore test (UTC)."
  default     = "cron(0 4 1 * ? *)"
}

variable "restore_test_instance_class" {
  type        = string
  description = "Instance class of the restore test's scratch instance."
  default     = "db.t3.small"
}

# ---- observability and cost

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group, in days."
  default     = 365
}

variable "alarm_subscriptions" {
  type = list(object({
    severity = string
    protocol = string
    endpoint = string
  }))
  description = "Subscriptions to the critical and warning alarm topics."
  default     = []
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail subscribers of the application's alerts topic."
  default     = []
}

variable "prometheus_rules_dir" {
  type        = string
  description = "Directory of the Prometheus rule files (*.rules.yml) loaded into the managed workspace."
}

variable "monthly_budget_usd" {
  type        = number
  description = "Monthly AWS Budgets limit of this environment, in USD (the plan's estimate)."
}

variable "budget_alert_emails" {
  type        = list(string)
  description = "E-mail addresses alerted by the budget."
  default     = []
}

variable "audited_bucket_arns" {
  type        = map(string)
  description = "Further buckets whose object-level events the account's trail records (with enable_account_controls), by purpose: e.g. the Terraform state bucket, which bootstrap makes outside any stack. No role gets access through this."
  default     = {}
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services the tasks reach through interface VPC endpoints (each ~$7.30 a month per zone); the rest go through the NAT gateways. infrastructure/README.md, Cost, says which each environment takes and why."
  default     = ["ecr.api", "ecr.dkr", "logs", "sqs", "secretsmanager", "kms", "aps-workspaces", "monitoring"]
}

variable "permissions_boundary_name" {
  type        = string
  description = "Name of the managed policy every IAM role of the stack carries as its permissions boundary (environments/shared makes p360-ci-boundary; the CI deploy roles may create roles only with it). Null: none, for an account without environments/shared."
  default     = "p360-ci-boundary"
}
