variable "name" {
  type        = string
  description = "Cluster name and prefix of everything else, e.g. p360-production."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the target groups."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Subnets of the ALB."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Subnets of the ECS tasks."
}

variable "alb_security_group_ids" {
  type        = list(string)
  description = "Security groups of the ALB (networking outputs security_group_ids.alb and .alb_slot_test)."
}

variable "app_security_group_id" {
  type        = string
  description = "Security group of the tasks (networking output security_group_ids.app)."
}

variable "app_port" {
  type        = number
  description = "Port p360 serve listens on inside the task."
  default     = 8360
}

variable "image_repository_url" {
  type        = string
  description = "ECR repository URL of the p360 image (registry module output repository_url)."
}

variable "image_tag" {
  type        = string
  description = "Image tag the task definitions start from; later releases are rolled out by p360 deploy."
  default     = "latest-release"
}

variable "execution_role_arn" {
  type        = string
  description = "ECS task execution role (security module)."
}

variable "api_task_role_arn" {
  type        = string
  description = "Task role of p360 serve (security module)."
}

variable "migrate_task_role_arn" {
  type        = string
  description = "Task role of the one-off migrate task: read the files bucket and the audit checkpoints (p360 restore-check, p360 audit verify; security module)."
}

variable "worker_task_role_arn" {
  type        = string
  description = "Task role of p360 worker (security module)."
}

variable "api_cpu" {
  type        = number
  description = "CPU units of an API task (1024 = 1 vCPU)."
  default     = 1024
}

variable "api_memory" {
  type        = number
  description = "Memory of an API task, in MiB."
  default     = 2048
}

variable "worker_cpu" {
  type        = number
  description = "CPU units of a worker task (1024 = 1 vCPU)."
  default     = 1024
}

variable "worker_memory" {
  type        = number
  description = "Memory of a worker task, in MiB."
  default     = 2048
}

variable "api_min_count" {
  type        = number
  description = "Minimum API tasks of the serving slot (scripts/ecs-slot applies it when a deployment starts a slot)."
  default     = 1
}

variable "api_max_count" {
  type        = number
  description = "Maximum API tasks of the serving slot (scripts/ecs-slot applies it when a deployment starts a slot)."
  default     = 2
}

variable "api_cpu_target_percent" {
  type        = number
  description = "Average CPU the API services are scaled to hold."
  default     = 60
}

variable "worker_min_count" {
  type        = number
  description = "Minimum worker tasks."
  default     = 1
}

variable "worker_max_count" {
  type        = number
  description = "Maximum worker tasks."
  default     = 2
}

variable "worker_queue_names" {
  type        = list(string)
  description = "SQS job queues whose summed backlog scales the workers."

  validation {
    condition     = length(var.worker_queue_names) > 0
    error_message = "Give at least one queue."
  }
}

variable "worker_backlog_per_task" {
  type        = number
  description = "Queue messages one worker task is expected to hold; more scales out."
  default     = 100
}

variable "worker_spot_percent" {
  type        = number
  description = "Share of worker tasks above the first one placed on Fargate Spot (0-90)."
  default     = 0

  validation {
    condition     = var.worker_spot_percent >= 0 && var.worker_spot_percent <= 90
    error_message = "worker_spot_percent must be between 0 and 90."
  }
}

variable "deregistration_delay_seconds" {
  type        = number
  description = "Seconds the ALB lets requests in flight to a deregistering task finish before ECS signals it: at least the longest request (http.request_timeout_ms, 30 s)."
  default     = 30
}

variable "slot_test_ports" {
  type        = map(number)
  description = "ALB port of each slot's test listener (blue, green), reachable from inside the VPC only (networking module); p360 deploy checks a slot there."
  default     = { blue = 8081, green = 8082 }

  validation {
    condition     = length(setsubtract(["blue", "green"], keys(var.slot_test_ports))) == 0
    error_message = "slot_test_ports needs a port for blue and for green."
  }
}

variable "database_max_connections" {
  type        = number
  description = "Pool size of each task (database.max_connections)."
  default     = 10
}

variable "log_level" {
  type        = string
  description = "Tracing filter of the application (log.level)."
  default     = "info"
}

variable "auth_issuers_toml" {
  type        = string
  description = "Trusted OIDC issuers as a TOML inline array (P360_AUTH__ISSUERS); empty: none."
  default     = ""
}

variable "files_bucket" {
  type        = string
  description = "S3 bucket of the application's files (storage.s3_bucket)."
}

variable "secret_environment" {
  type        = map(string)
  description = "Environment variables injected from Secrets Manager: variable name => secret ARN (or ARN:json-key:: for one key of a JSON secret). Only P360_* keys the application knows: unknown ones stop it."
}

variable "environment_variables" {
  type        = map(string)
  description = "Further plain environment variables of every p360 container (P360_* configuration keys the application knows)."
  default     = {}
}

variable "log_group_names" {
  type        = map(string)
  description = "CloudWatch log groups by role: api, worker, migrate (monitoring module output)."
}

variable "adot_container_definitions" {
  type        = any
  description = "ADOT collector sidecar container definitions by task definition: api-blue, api-green and worker (monitoring module output adot_container_definitions)."
}

variable "certificate_arn" {
  type        = string
  description = "Regional ACM certificate of the ALB (covers origin_domain_name)."
}

variable "create_cloudfront" {
  type        = bool
  description = "Create the CloudFront distribution (false in a DR stack: the primary's distribution fails over to this ALB)."
  default     = true
}

variable "cloudfront_certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 covering domain_name, for CloudFront (null without create_cloudfront)."
  default     = null
}

variable "origin_verify_secret" {
  type        = string
  description = "Value of the X-Origin-Verify header; null: generate one. A DR stack passes the primary's."
  default     = null
  sensitive   = true
}

variable "origin_verify_secret_arn" {
  type        = string
  description = "Secrets Manager secret the header value is stored in (security module output secret_arns[\"origin-verify\"])."
}

variable "domain_name" {
  type        = string
  description = "Public host name users reach the application on, e.g. app.p360.example."
}

variable "origin_domain_name" {
  type        = string
  description = "Host name CloudFront reaches the ALB on (an alias record to the ALB), e.g. origin.app.p360.example."
}

variable "slot_test_domain_name" {
  type        = string
  description = "Host name of this ALB that is never failed over (dns module slots_domain_name; the certificate covers it): the host of the slots' test URLs, e.g. production.slots.p360.example."
}

variable "regional_web_acl_arn" {
  type        = string
  description = "WAF ACL of the ALB (security module)."
}

variable "cloudfront_web_acl_arn" {
  type        = string
  description = "WAF ACL of CloudFront (security module, us-east-1; null without create_cloudfront)."
  default     = null
}

variable "cloudfront_price_class" {
  type        = string
  description = "CloudFront price class."
  default     = "PriceClass_100"
}

variable "access_logs_bucket_id" {
  type        = string
  description = "Bucket for ALB access logs (storage module)."
}

variable "access_logs_bucket_domain_name" {
  type        = string
  description = "Regional domain name of the access-log bucket, for CloudFront logs (storage module)."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the ALB."
  default     = true
}
