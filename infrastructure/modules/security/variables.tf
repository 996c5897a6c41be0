variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. p360-production."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, staging, production, dr); scopes log-group permissions."
}

variable "waf_rate_limit_per_5_minutes" {
  type        = number
  description = "Requests one client IP may send in any 5-minute window before WAF blocks it."
  default     = 2000
}

variable "deploy_probe_sources" {
  type        = list(string)
  description = "CIDRs of the environment's own NAT gateways (networking output nat_public_ips as /32): requests from them to slots_domain_name, the deploy's probes of the ALB's per-slot test listeners, skip the regional ACL's managed rules and rate limit. Empty: no exception."
  default     = []
}

variable "slots_domain_name" {
  type        = string
  description = "Host name of the ALB's per-slot test listeners (dns module slots_domain_name); only requests to it are excepted (deploy_probe_sources)."
  default     = ""

  validation {
    condition     = var.slots_domain_name == lower(var.slots_domain_name)
    error_message = "slots_domain_name must be lower case (it is compared with the lower-cased Host header)."
  }
}

variable "create_cloudfront_web_acl" {
  type        = bool
  description = "Create the CLOUDFRONT-scoped web ACL in us-east-1 (false where no distribution is created)."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the WAF and CloudTrail log groups, in days."
  default     = 365
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted secret can still be restored (0 deletes at once; use 0 only in dev)."
  default     = 30
}

variable "secret_replica_region" {
  type        = string
  description = "Region every secret is replicated to for disaster recovery (null: no replica)."
  default     = null
}

variable "tenant_secrets_key_alias" {
  type        = string
  description = "Alias (alias/...) of an existing KMS key in this region that wraps tenants' data keys, used instead of a key of this stack's own: the DR stack names production's multi-Region replica (alias/p360-production-tenant-secrets), which opens the data keys in the restored database. Null: this stack creates its own key, alias/<name>-tenant-secrets, replicated to secret_replica_region when that is set."
  default     = null

  validation {
    condition     = var.tenant_secrets_key_alias == null || can(regex("^alias/[A-Za-z0-9/_-]+$", var.tenant_secrets_key_alias))
    error_message = "tenant_secrets_key_alias must be an alias name, alias/..., not an ARN (the application records the name with every wrapped data key, and an ARN names a region)."
  }
}

variable "bucket_arns" {
  type        = map(string)
  description = "ARNs of the platform's S3 buckets by purpose (storage module output bucket_arns)."
  default     = {}
}

variable "api_bucket_keys" {
  type        = list(string)
  description = "Buckets (keys of bucket_arns) that p360 serve reads and writes."
  default     = ["creatives", "uploads", "exports"]
}

variable "worker_bucket_keys" {
  type        = list(string)
  description = "Buckets (keys of bucket_arns) that p360 worker reads and writes."
  default     = ["creatives", "uploads", "exports", "backups", "audit-archive"]
}

variable "migrate_bucket_keys" {
  type        = list(string)
  description = "Buckets (keys of bucket_arns) that the one-off migrate task (p360 restore-check, p360 audit verify) may list and read: the files bucket and the audit checkpoints'."
  default     = ["creatives", "audit-archive"]
}

variable "extra_kms_key_arns" {
  type        = list(string)
  description = "Further KMS keys the tasks may use, e.g. the key of DR replica buckets served after a failover."
  default     = []
}

variable "queue_arns" {
  type        = list(string)
  description = "ARNs of the SQS queues the application sends to and consumes."
  default     = []
}

variable "topic_arns" {
  type        = list(string)
  description = "ARNs of the SNS topics the application publishes to."
  default     = []
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace the ADOT collector writes embedded metrics to."
  default     = "P360/App"
}

variable "prometheus_workspace_arn" {
  type        = string
  description = "Amazon Managed Prometheus workspace the ADOT sidecar remote-writes to (null: none)."
  default     = null
}

variable "enable_account_controls" {
  type        = bool
  description = "Create the account-level controls (GuardDuty, CloudTrail, AWS Config). One stack per account and region may own them."
  default     = true
}

variable "access_logs_bucket_id" {
  type        = string
  description = "Bucket that receives S3 server access logs of the CloudTrail bucket."
}

variable "trail_retention_days" {
  type        = number
  description = "Days CloudTrail and AWS Config files are kept (and locked) in the trail bucket."
  default     = 2555
}

variable "trail_sns_topic_arn" {
  type        = string
  description = "SNS topic notified of every trail file delivery (null: none)."
  default     = null
}

variable "origin_domain_name" {
  type        = string
  description = "Host name CloudFront sends to the ALB (origin.<app domain>); the regional ACL's per-address rate limit leaves these requests to CloudFront's ACL. Empty: no exception."
  default     = ""
}

variable "upload_path_regex" {
  type        = string
  description = "URI paths whose bodies may exceed the Common rule set's 8 KB body limit: the creative upload routes (POST /v1/creatives, PATCH /v1/creatives/{id}) and the file uploads (account lists, company files)."
  default     = "^/v1/(creatives(/[0-9A-Za-z_-]+)?|account-lists|companies/import|companies/ip-ranges/import)$"
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
