variable "name" {
  type        = string
  description = "Name prefix of everything this module creates, e.g. p360-production; the scratch instance is <name>-restore-test."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, staging, production, dr): the task's log group is /p360/<environment>/restore-check."
}

# ---- the database restored

variable "source_db_instance_identifier" {
  type        = string
  description = "RDS instance whose latest restorable time is restored (database module output primary_identifier)."
}

variable "source_db_instance_arn" {
  type        = string
  description = "ARN of that instance (database module output primary_arn): the only source the state machine may restore."
}

variable "source_db_address" {
  type        = string
  description = "Endpoint of that instance (database module output primary_address). The scratch instance's endpoint differs only in its first label (RDS endpoints are <identifier>.<account and region id>.<region>.rds.amazonaws.com), which is what the restore-test secret must name."
}

variable "db_subnet_group_name" {
  type        = string
  description = "DB subnet group of the scratch instance: the source's (database module output subnet_group_name)."
}

variable "db_parameter_group_name" {
  type        = string
  description = "DB parameter group of the scratch instance: the source's (database module output parameter_group_name; TLS enforced)."
}

variable "db_security_group_id" {
  type        = string
  description = "Security group of the scratch instance: the database tier's (networking output security_group_ids.database), which admits the tasks' group."
}

variable "scratch_instance_class" {
  type        = string
  description = "Instance class of the scratch instance: small, it serves one check (storage is the source's, RDS restores it whole)."
  default     = "db.t3.small"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.scratch_instance_class))
    error_message = "scratch_instance_class must be an RDS instance class, e.g. db.t3.small."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "The platform's KMS key (security module output kms_key_arn): the source instance's storage key (a restore keeps it), and the key of the secret, the log groups and the schedule."
}

# ---- the check

variable "cluster_name" {
  type        = string
  description = "ECS cluster the one-off restore-check task runs in (compute module output cluster_name)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the task (networking output private_subnet_ids)."

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one subnet."
  }
}

variable "task_security_group_id" {
  type        = string
  description = "Security group of the task (networking output security_group_ids.app): the database tier admits it, and it reaches S3 and Secrets Manager."
}

variable "image" {
  type        = string
  description = "The p360 image, repository:tag (compute module output image): each apply registers a revision on it, and the state machine runs the family's latest."
}

variable "container_environment" {
  type = list(object({
    name  = string
    value = string
  }))
  description = "Plain environment of every p360 container (compute module output container_environment): production mode, the object store, the configuration keys the application requires."
}

variable "secret_environment" {
  type        = map(string)
  description = "The environment's secret environment (variable => secret ARN, or ARN:json-key::), as the tasks get it. Its P360_DATABASE__* entries name the environment's own database and are left out: the task gets the restore-test secret's URLs instead."
}

variable "files_bucket_name" {
  type        = string
  description = "Bucket of the application's files (P360_STORAGE__S3_BUCKET): the check looks for the newest creatives' files there and records its result under restore-checks/."
}

variable "bucket_kms_key_arns" {
  type        = list(string)
  description = "KMS keys of files_bucket_name's objects (the platform key; in a DR stack also the replicas' key)."
}

variable "task_cpu" {
  type        = number
  description = "CPU units of the restore-check task (1024 = 1 vCPU)."
  default     = 1024
}

variable "task_memory" {
  type        = number
  description = "Memory of the restore-check task, in MiB."
  default     = 2048
}

# ---- schedule and limits

variable "schedule_expression" {
  type        = string
  description = "When EventBridge Scheduler starts the restore test (default: 04:00 on the 1st of every month, after the 03:00-04:00 backup window)."
  default     = "cron(0 4 1 * ? *)"

  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a Scheduler expression: cron(...), rate(...) or at(...)."
  }
}

variable "schedule_timezone" {
  type        = string
  description = "Time zone of schedule_expression."
  default     = "UTC"
}

variable "restore_timeout_minutes" {
  type        = number
  description = "How long the state machine waits for the scratch instance to become available before it gives up (and deletes it)."
  default     = 240

  validation {
    condition     = var.restore_timeout_minutes >= 30 && var.restore_timeout_minutes <= 720
    error_message = "restore_timeout_minutes must be between 30 and 720."
  }
}

variable "check_timeout_minutes" {
  type        = number
  description = "How long the restore-check task may run; then Step Functions stops it and the scratch instance is deleted."
  default     = 240

  validation {
    condition     = var.check_timeout_minutes >= 10 && var.check_timeout_minutes <= 720
    error_message = "check_timeout_minutes must be between 10 and 720."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the task's and the state machine's log groups, in days."
  default     = 365
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Recovery window of the restore-test secret when deleted (0 in dev)."
  default     = 30
}

variable "alarm_topic_arns" {
  type        = list(string)
  description = "SNS topics told when an execution fails (the monitoring module's warning topic): the restore did not happen, the check failed, or the scratch instance could not be deleted."
  default     = []
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
