variable "name" {
  type        = string
  description = "Name prefix for every bucket, e.g. p360-production (the account id is appended)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts every bucket except the access-log bucket."
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy non-empty buckets (dev only)."
  default     = false
}

variable "ia_transition_days" {
  type        = number
  description = "Move creatives to STANDARD_IA after this many days (null: stay in STANDARD). S3's minimum is 30."
  default     = null

  validation {
    condition     = var.ia_transition_days == null || try(var.ia_transition_days >= 30, false)
    error_message = "ia_transition_days must be null or at least 30."
  }
}

variable "uploads_expire_days" {
  type        = number
  description = "Days an upload or partner file is kept after it landed (it is ingested into the database)."
  default     = 90
}

variable "exports_expire_days" {
  type        = number
  description = "Days an export stays downloadable."
  default     = 30
}

variable "backups_expire_days" {
  type        = number
  description = "Days a logical backup is kept."
  default     = 365
}

variable "audit_lock_days" {
  type        = number
  description = "Object Lock retention of the audit archive, in days (7 years = 2555)."
  default     = 2555
}

variable "audit_lock_mode" {
  type        = string
  description = "Object Lock mode of the audit archive: COMPLIANCE (nobody can delete, production) or GOVERNANCE."
  default     = "COMPLIANCE"

  validation {
    condition     = contains(["COMPLIANCE", "GOVERNANCE"], var.audit_lock_mode)
    error_message = "audit_lock_mode must be COMPLIANCE or GOVERNANCE."
  }
}

variable "access_log_retention_days" {
  type        = number
  description = "Days access logs (S3, ALB, CloudFront) are kept."
  default     = 365
}

variable "replicate_to_dr" {
  type        = bool
  description = "Replicate creatives, backups and the audit archive to the DR region (provider aws.dr)."
  default     = false
}

variable "alarm_topic_arns" {
  type        = list(string)
  description = "SNS topics in this region (the monitoring module's warning topic) told when objects failed to replicate to the DR region. Used only with replicate_to_dr."
  default     = []
}

variable "dr_alarm_subscriptions" {
  type = list(object({
    protocol = string
    endpoint = string
  }))
  description = "Subscribers of the DR-region alarm topic <name>-alarms-warning-dr, told when a DR replica lags more than RTC's 15 minutes (S3 publishes that metric in the DR region, and an alarm tells only topics of its own region): the warning topic's. Used only with replicate_to_dr."
  default     = []
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
