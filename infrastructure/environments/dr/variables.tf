variable "active" {
  type        = bool
  description = "false: standing by (nothing runs here); true: failover, build the full stack in this region."
  default     = false
}

variable "restore_source_automated_backups_arn" {
  type        = string
  description = "Production output dr_automated_backups_arn: the replicated RDS backups the failover restores from."
  default     = null

  validation {
    condition     = var.restore_source_automated_backups_arn == null || can(regex("^arn:aws:rds:us-west-2:", var.restore_source_automated_backups_arn))
    error_message = "Give the ARN of replicated automated backups in us-west-2."
  }
}

variable "restore_time" {
  type        = string
  description = "The UTC time (RFC 3339, e.g. 2026-12-06T14:05:00Z) the database is restored to, within the replicated backups' restorable window (a failover away from corrupted data); null: the latest restorable time. Fixed once the database exists (scripts/dr-failover restore --restore-time sets it)."
  default     = null
}

variable "files_bucket_name" {
  type        = string
  description = "Replica of production's creatives bucket in this region (production storage output replica_bucket_ids.creatives)."
  default     = null
}

variable "audit_checkpoint_bucket_name" {
  type        = string
  description = "Replica of production's audit-archive bucket in this region (production storage output replica_bucket_ids.audit-archive): the tasks keep audit checkpoints there (audit.checkpoint_bucket) and verify the restored database against production's."
  default     = null
}

variable "files_bucket_kms_key_arn" {
  type        = string
  description = "KMS key of the replica buckets (production output dr_replicas.kms_key_arn)."
  default     = null
}

variable "tenant_secrets_kms_key_alias" {
  type        = string
  description = "Alias, in this region, of production's replica of the tenant secrets key (production output dr_replicas.tenant_secrets_kms_alias): the restored database's tenant data keys were wrapped by it, and the tasks name it exactly as production's do."
  default     = "alias/p360-production-tenant-secrets"
}

variable "origin_verify_secret" {
  type        = string
  description = "Production's X-Origin-Verify value: aws secretsmanager get-secret-value --region us-west-2 --secret-id p360-production/origin-verify."
  default     = null
  sensitive   = true
}

variable "region" {
  type        = string
  description = "Region of the DR environment."
  default     = "us-west-2"
}

variable "primary_region" {
  type        = string
  description = "Region production normally runs in."
  default     = "us-east-1"
}

variable "cost_center" {
  type        = string
  description = "Value of the CostCenter cost allocation tag."
  default     = "p360-display"
}

variable "zone_name" {
  type        = string
  description = "Existing public Route 53 zone (the same as production's)."
  default     = "p360.example"
}

variable "image_tag" {
  type        = string
  description = "Image tag to start from: the release production last ran."
  default     = "latest-release"
}

variable "image_repository_url" {
  type        = string
  description = "ECR repository URL in us-west-2 (the replica of environments/shared's repository)."
}

variable "auth_issuers_toml" {
  type        = string
  description = "Trusted OIDC issuers as a TOML inline array (P360_AUTH__ISSUERS)."
  default     = ""
}

variable "alarm_subscriptions" {
  type = list(object({
    severity = string
    protocol = string
    endpoint = string
  }))
  description = "Subscriptions to the alarm topics."
  default     = []
}

variable "ops_emails" {
  type        = list(string)
  description = "Operations e-mail addresses: application alerts and budget alerts."
  default     = ["platform-ops@p360.example"]
}

variable "lambda_zip_path" {
  type        = string
  description = "Zip of the landing Lambda, built by the pipeline (make lambda)."
  default     = "../../../target/lambda/landing-lambda/bootstrap.zip"
}
