variable "region" {
  type        = string
  description = "Region of the shared resources (the primary region)."
  default     = "us-east-1"
}

variable "dr_region" {
  type        = string
  description = "Region images are replicated to."
  default     = "us-west-2"
}

variable "cost_center" {
  type        = string
  description = "Value of the CostCenter cost allocation tag."
  default     = "p360-display"
}

variable "budget_alert_emails" {
  type        = list(string)
  description = "E-mail addresses alerted by the overall budgets."
  default     = ["platform-ops@p360.example"]
}

variable "gitlab_url" {
  type        = string
  description = "URL of the GitLab instance whose ID tokens are trusted."
  default     = "https://gitlab.com"
}

variable "gitlab_thumbprints" {
  type        = list(string)
  description = "Certificate thumbprints of the GitLab OIDC issuer (IAM ignores them for well-known issuers but requires one)."
  default     = ["b3dd7606d2b5a8b4a13771dbecc9ee1cecafa38a"]
}

variable "gitlab_project_path" {
  type        = string
  description = "group/project path of this repository on GitLab."
  default     = "p360/p360-display"
}

variable "protected_branch" {
  type        = string
  description = "The protected branch deployments run from."
  default     = "main"
}

variable "release_tag_pattern" {
  type        = string
  description = "Git tags whose pipelines release (IAM StringLike pattern on the ref name); protect the same pattern in GitLab."
  default     = "v*"
}

variable "state_bucket" {
  type        = string
  description = "Terraform state bucket of the us-east-1 roots (infrastructure/bootstrap)."
  default     = "p360-terraform-state"
}

variable "dr_state_bucket" {
  type        = string
  description = "Terraform state bucket of environments/dr, in the DR region (infrastructure/bootstrap)."
  default     = "p360-terraform-state-dr"
}
