variable "name" {
  type        = string
  description = "Repository name."
  default     = "p360"
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the images."
}

variable "keep_images" {
  type        = number
  description = "Commit builds (sha- tags) kept; release tags (v*) are never expired."
  default     = 200
}

variable "replica_regions" {
  type        = list(string)
  description = "Regions images are replicated to (the DR region)."
  default     = []
}
