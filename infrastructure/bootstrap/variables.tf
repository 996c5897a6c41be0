variable "region" {
  type        = string
  description = "Region of the state backend."
  default     = "us-east-1"
}

variable "state_bucket_name" {
  type        = string
  description = "Name of the state bucket (the backend blocks of environments/* name it)."
  default     = "p360-terraform-state"
}

variable "lock_table_name" {
  type        = string
  description = "Name of the DynamoDB lock table (the backend blocks of environments/* name it)."
  default     = "p360-terraform-locks"
}

variable "dr_region" {
  type        = string
  description = "Region of the DR environment's state backend."
  default     = "us-west-2"
}
