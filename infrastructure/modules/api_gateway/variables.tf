variable "name" {
  type        = string
  description = "Name of the REST API and prefix of everything else, e.g. p360-production-external."
}

variable "backend_domain_name" {
  type        = string
  description = "Host name requests are proxied to (the application's public host name behind CloudFront)."
}

variable "domain_name" {
  type        = string
  description = "Custom domain of the external API, e.g. api.p360.example."
}

variable "certificate_arn" {
  type        = string
  description = "Regional ACM certificate covering domain_name (dns module)."
}

variable "web_acl_arn" {
  type        = string
  description = "Regional WAF ACL protecting the stage (security module)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the access log group."
}

variable "stage_name" {
  type        = string
  description = "Name of the deployed stage."
  default     = "v1"
}

variable "stage_rate_limit" {
  type        = number
  description = "Steady-state requests per second the stage accepts in total."
  default     = 200
}

variable "stage_burst_limit" {
  type        = number
  description = "Burst of requests the stage accepts in total."
  default     = 400
}

variable "usage_plans" {
  type = map(object({
    description   = string
    rate_limit    = number
    burst_limit   = number
    quota_per_day = number
  }))
  description = "Usage plans by name: throttling and daily quota per API key."
  default = {
    standard = {
      description   = "Customer integrations: 10 requests/s, 50,000 a day"
      rate_limit    = 10
      burst_limit   = 20
      quota_per_day = 50000
    }
    partner = {
      description   = "Partner platforms: 50 requests/s, 500,000 a day"
      rate_limit    = 50
      burst_limit   = 100
      quota_per_day = 500000
    }
  }
}

variable "api_keys" {
  type        = map(string)
  description = "API keys to create: consumer name => usage plan name."
  default     = {}
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the access log group, in days."
  default     = 365
}

variable "manage_account_logging_role" {
  type        = bool
  description = "Set the account's API Gateway CloudWatch role (one per account and region); the stage's execution logging needs it set, here or elsewhere."
  default     = true
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
