variable "bucket_name" {
  type        = string
  description = "Name of the state bucket."
}

variable "table_name" {
  type        = string
  description = "Name of the DynamoDB lock table."
}
