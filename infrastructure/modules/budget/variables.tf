variable "name" {
  type        = string
  description = "Budget name, e.g. p360-production-monthly."
}

variable "monthly_limit_usd" {
  type        = number
  description = "Monthly budget in US dollars (the deployment plan's estimate)."
}

variable "cost_filters" {
  type        = map(list(string))
  description = "Cost filters, e.g. { TagKeyValue = [\"user:Environment$production\"] } or { Service = [...] }; empty: the whole account."
  default     = {}
}

variable "alert_emails" {
  type        = list(string)
  description = "E-mail addresses alerted at 80% actual and 100% forecast."
  default     = []
}

variable "alert_topic_arns" {
  type        = list(string)
  description = "SNS topics alerted at 80% actual and 100% forecast."
  default     = []

  validation {
    condition     = length(var.alert_topic_arns) <= 1
    error_message = "AWS Budgets notifies at most one SNS topic per notification."
  }
}
