variable "name" {
  type        = string
  description = "Identifier of the primary instance and prefix of everything else, e.g. p360-production."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Isolated data subnets (networking module output data_subnet_ids)."
}

variable "security_group_id" {
  type        = string
  description = "Security group of the database tier (networking module output security_group_ids.database)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for storage, Performance Insights and the master-user secret."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version (major, or major.minor); minor upgrades are automatic."
  default     = "16"
}

variable "instance_class" {
  type        = string
  description = "Instance class of the primary (dev db.t3.micro, staging db.t3.small, production db.r5.large)."
  default     = "db.t3.micro"
}

variable "replica_instance_class" {
  type        = string
  description = "Instance class of the read replicas (null: same as the primary)."
  default     = null
}

variable "read_replica_count" {
  type        = number
  description = "Read replicas for reporting workloads."
  default     = 0

  validation {
    condition     = var.read_replica_count >= 0 && var.read_replica_count <= 5
    error_message = "read_replica_count must be between 0 and 5."
  }
}

variable "replica_availability_zones" {
  type        = list(string)
  description = "Zones the read replicas are spread over, round robin (empty: RDS chooses)."
  default     = []
}

variable "multi_az" {
  type        = bool
  description = "Synchronous standby in a second availability zone."
  default     = true
}

variable "database_name" {
  type        = string
  description = "Name of the application database."
  default     = "p360"
}

variable "master_username" {
  type        = string
  description = "Master user (its password is generated and kept by RDS in Secrets Manager)."
  default     = "p360_admin"
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial storage, in GiB."
  default     = 20
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Storage autoscaling ceiling, in GiB."
  default     = 200
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (and point-in-time recovery window)."
  default     = 30

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instances."
  default     = true
}

variable "monitoring_interval_seconds" {
  type        = number
  description = "Enhanced monitoring interval (0 disables it)."
  default     = 30
}

variable "slow_query_ms" {
  type        = number
  description = "Statements slower than this are logged (log_min_duration_statement)."
  default     = 1000
}

variable "replicate_backups_to_dr" {
  type        = bool
  description = "Replicate automated backups to the DR region (provider aws.dr)."
  default     = false
}

variable "create_from_backup" {
  type        = bool
  description = "Build the primary by point-in-time restore from replicated automated backups (DR failover)."
  default     = false
}

variable "restore_source_automated_backups_arn" {
  type        = string
  description = "ARN of the replicated automated backups to restore from when create_from_backup is true."
  default     = null
}

variable "restore_time" {
  type        = string
  description = "With create_from_backup: the UTC time to restore to (RFC 3339, e.g. 2026-12-06T14:05:00Z), within the backups' restorable window; null: their latest restorable time."
  default     = null

  validation {
    condition     = var.restore_time == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", var.restore_time))
    error_message = "Give restore_time as UTC RFC 3339, e.g. 2026-12-06T14:05:00Z."
  }
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
