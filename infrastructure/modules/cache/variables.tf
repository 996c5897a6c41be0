variable "name" {
  type        = string
  description = "Replication group id and name prefix, e.g. p360-production."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Isolated data subnets (networking module output data_subnet_ids)."
}

variable "security_group_id" {
  type        = string
  description = "Security group of the cache tier (networking module output security_group_ids.cache)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for encryption at rest and the slow-log group."
}

variable "url_secret_arn" {
  type        = string
  description = "Secrets Manager secret that receives the rediss:// URL (security module output secret_arns.redis)."
}

variable "engine_version" {
  type        = string
  description = "Redis engine version."
  default     = "7.1"
}

variable "node_type" {
  type        = string
  description = "Cache node type."
  default     = "cache.t4g.micro"
}

variable "node_count" {
  type        = number
  description = "Nodes in the replication group (1: no replica; 2 or more: automatic failover across zones)."
  default     = 1

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 6
    error_message = "node_count must be between 1 and 6."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of daily snapshots (rate-limit buckets are rebuildable; snapshots speed recovery)."
  default     = 1
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the slow-log group, in days."
  default     = 365
}
