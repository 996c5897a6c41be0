variable "name" {
  type        = string
  description = "Name prefix for every resource, e.g. p360-production."
}

variable "cidr_block" {
  type        = string
  description = "CIDR block of the VPC; split into /20 subnets (needs a /16)."
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && endswith(var.cidr_block, "/16")
    error_message = "cidr_block must be a valid /16 CIDR block."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread the subnets over (named, so that a zone AWS adds later never changes the plan)."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "Give between 2 and 4 availability zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all zones (cheaper, for dev) instead of one per zone."
  default     = false
}

variable "app_port" {
  type        = number
  description = "Port the p360 container listens on (http.listen)."
  default     = 8360
}

variable "slot_test_ports" {
  type        = list(number)
  description = "ALB ports of the per-slot test listeners (compute module: blue, green), opened to this VPC's NAT addresses only: the deploy runner reaches each slot there."
  default     = [8081, 8082]
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services reached through interface VPC endpoints (service name suffixes)."
  default = [
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "secretsmanager",
    "sqs",
    "sns",
    "kms",
    "sts",
    "xray",
    "aps-workspaces",
  ]
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the flow log group."
}

variable "flow_log_retention_days" {
  type        = number
  description = "Retention of the VPC flow log group, in days."
  default     = 365
}

variable "permissions_boundary_arn" {
  type        = string
  description = "Permissions boundary of every IAM role this module creates (environments/shared output ci_permissions_boundary_arn): the CI deploy roles may create roles only with it. Null: none."
  default     = null
}
