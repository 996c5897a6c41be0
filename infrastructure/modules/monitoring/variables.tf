variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. p360-production."
}

variable "environment" {
  type        = string
  description = "Environment name (dev, staging, production, dr): log group paths and metric labels."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for log groups, topics and the Prometheus workspace."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the application log groups, in days."
  default     = 365
}

variable "alarm_subscriptions" {
  type = list(object({
    severity = string
    protocol = string
    endpoint = string
  }))
  description = "Subscriptions to the alarm topics: severity critical (paging, e.g. an https PagerDuty endpoint) or warning (e-mail, chat)."
  default     = []

  validation {
    condition     = alltrue([for s in var.alarm_subscriptions : contains(["critical", "warning"], s.severity)])
    error_message = "severity must be critical or warning."
  }
}

variable "app_port" {
  type        = number
  description = "Port of p360 serve inside the task (the collector scrapes /metrics there)."
  default     = 8360
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace of the application metrics the collector copies as EMF."
  default     = "P360/App"
}

variable "adot_image" {
  type        = string
  description = "Image of the AWS Distro for OpenTelemetry collector."
  default     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"
}

variable "trace_sample_rate" {
  type        = number
  description = "Share of requests traced beyond the first each second."
  default     = 0.05
}

variable "prometheus_rule_files" {
  type        = map(string)
  description = "Prometheus rule files loaded into the managed workspace: file name => content."
  default     = {}
}

variable "alb_arn_suffix" {
  type        = string
  description = "ARN suffix of the ALB (compute module)."
}

variable "target_group_arn_suffixes" {
  type        = map(string)
  description = "Target group ARN suffixes by colour (compute module)."
}

variable "ecs_cluster_name" {
  type        = string
  description = "ECS cluster (compute module)."
}

variable "ecs_service_names" {
  type        = list(string)
  description = "ECS services whose CPU and memory are watched."
}

variable "db_instance_identifiers" {
  type        = list(string)
  description = "RDS instances (primary and replicas) watched and subscribed to events."
}

variable "db_allocated_storage_gb" {
  type        = number
  description = "Allocated storage of the RDS instances, in GiB (the free-space alarm fires below 20% of it)."
}

variable "cache_cluster_ids" {
  type        = list(string)
  description = "ElastiCache node ids (cache module output member_clusters)."
}

variable "queue_names" {
  type        = map(string)
  description = "SQS queues by name whose oldest message age is watched."
  default     = {}
}

variable "dlq_names" {
  type        = map(string)
  description = "Dead-letter queues by queue; any message in one raises a warning."
  default     = {}
}

variable "lambda_function_names" {
  type        = list(string)
  description = "Lambda functions whose errors are watched."
  default     = []
}

variable "certificate_arns" {
  type        = map(string)
  description = "ACM certificates in this region whose expiry is watched, by a short name."
  default     = {}
}
