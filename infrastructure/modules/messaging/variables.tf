variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. p360-production."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting queues, topics, the Lambda environment and its log group."
}

variable "queues" {
  type = map(object({
    visibility_timeout_seconds = number
    retention_seconds          = number
    max_receive_count          = number
  }))
  description = "Queues by name; each gets a dead-letter queue after max_receive_count receives."
  # default, activation, events: the job queues of `jobs.backend = "sqs"` (events:
  # the domain-event relay; the application
  # dead-letters a job itself after its MAX_ATTEMPTS; the redrive policy is the
  # safety net for messages that crash workers). ingest: files that landed.
  default = {
    default = {
      visibility_timeout_seconds = 60
      retention_seconds          = 1209600
      max_receive_count          = 50
    }
    activation = {
      visibility_timeout_seconds = 60
      retention_seconds          = 1209600
      max_receive_count          = 50
    }
    events = {
      visibility_timeout_seconds = 60
      retention_seconds          = 1209600
      max_receive_count          = 50
    }
    ingest = {
      visibility_timeout_seconds = 900
      retention_seconds          = 345600
      max_receive_count          = 5
    }
  }
}

variable "landing_queue_key" {
  type        = string
  description = "Key of var.queues that receives file-landed messages."
  default     = "ingest"
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alerts topic."
  default     = []
}

variable "lambda_zip_path" {
  type        = string
  description = "Zip of the landing Lambda (cargo lambda build --release -p landing-lambda --output-format zip)."
  default     = "../../target/lambda/landing-lambda/bootstrap.zip"
}

variable "lambda_architecture" {
  type        = string
  description = "Instruction set the Lambda zip was built for: x86_64 or arm64."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "lambda_reserved_concurrency" {
  type        = number
  description = "Concurrent executions reserved for (and capping) the landing Lambda; -1 reserves none. A new account's quota is 10 with 10 always unreserved, so any reservation fails there until the quota is raised."
  default     = -1

  validation {
    condition     = var.lambda_reserved_concurrency == -1 || var.lambda_reserved_concurrency >= 1
    error_message = "lambda_reserved_concurrency must be -1 (none reserved) or at least 1."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the Lambda runs in."
}

variable "security_group_id" {
  type        = string
  description = "Security group of the Lambda (networking module output security_group_ids.lambda)."
}

variable "landing_bucket_id" {
  type        = string
  description = "Bucket whose new objects are announced (storage module output bucket_ids.uploads)."
}

variable "landing_bucket_arn" {
  type        = string
  description = "ARN of the landing bucket."
}

variable "landing_prefix" {
  type        = string
  description = "Only objects under this key prefix are announced (partner-files/<partner>/...: the application routes each partner's prefix to its ingest job)."
  default     = "partner-files/"
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the Lambda log group, in days."
  default     = 365
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
