variable "zone_name" {
  type        = string
  description = "Existing public hosted zone, e.g. p360.example."
}

variable "app_domain_name" {
  type        = string
  description = "Public host name of the application (CloudFront), e.g. app.p360.example."
}

variable "origin_domain_name" {
  type        = string
  description = "Host name CloudFront uses to reach the ALB, e.g. origin.app.p360.example."
}

variable "api_domain_name" {
  type        = string
  description = "Host name of the external API (API Gateway), e.g. api.p360.example."
}

variable "slots_domain_name" {
  type        = string
  description = "Host name of this environment's ALB itself, never failed over (unlike origin_domain_name): p360 deploy reaches each slot's test listener on it, e.g. production.slots.p360.example. Unique per environment."
}

variable "create_app_record" {
  type        = bool
  description = "Create the application's record and its CloudFront certificate (false in a DR stack, which has no distribution)."
  default     = true
}

variable "health_alarm_names" {
  type        = list(string)
  description = "Single-metric CloudWatch alarms (this region), one per colour; the PRIMARY records are healthy while at least one is OK."
  default     = []
}

variable "failover_role" {
  type        = string
  description = "null for plain records; PRIMARY or SECONDARY for a primary/DR failover pair."
  default     = null

  validation {
    condition     = var.failover_role == null || contains(["PRIMARY", "SECONDARY"], coalesce(var.failover_role, "none"))
    error_message = "failover_role must be null, PRIMARY or SECONDARY."
  }
}

variable "alb_dns_name" {
  type        = string
  description = "DNS name of the ALB (compute module)."
}

variable "alb_zone_id" {
  type        = string
  description = "Hosted zone of the ALB (compute module)."
}

variable "cloudfront_domain_name" {
  type        = string
  description = "Domain name of the CloudFront distribution (compute module; null without create_app_record)."
  default     = null
}

variable "cloudfront_zone_id" {
  type        = string
  description = "Hosted zone of the CloudFront distribution (compute module; null without create_app_record)."
  default     = null
}

variable "api_gateway_domain_name" {
  type        = string
  description = "Regional domain name of the API Gateway custom domain (api_gateway module)."
}

variable "api_gateway_zone_id" {
  type        = string
  description = "Hosted zone of the API Gateway custom domain (api_gateway module)."
}
