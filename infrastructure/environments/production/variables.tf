variable "region" {
  type        = string
  description = "Primary region of the environment."
  default     = "us-east-1"
}

variable "dr_region" {
  type        = string
  description = "Disaster-recovery region."
  default     = "us-west-2"
}

variable "cost_center" {
  type        = string
  description = "Value of the CostCenter cost allocation tag."
  default     = "p360-display"
}

variable "zone_name" {
  type        = string
  description = "Existing public Route 53 zone the environment's names live in."
  default     = "p360.example"
}

variable "image_tag" {
  type        = string
  description = "Image tag new task definitions start from (scripts/deploy passes the release)."
  default     = "latest-release"
}

variable "image_repository_url" {
  type        = string
  description = "ECR repository URL (output repository_url of environments/shared)."
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
  description = "Subscriptions to the alarm topics (critical: paging endpoint; warning: e-mail or chat)."
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
