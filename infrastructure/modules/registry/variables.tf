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
  description = "Commit builds (sha- tags) kept; images that also carry a release tag (release_tag_prefix) are never expired."
  default     = 200
}

variable "release_tag_prefix" {
  type        = string
  description = "Prefix of the release image tags (v<semver>, the git tag's name) the lifecycle policy never expires."
  default     = "v"

  validation {
    condition     = length(var.release_tag_prefix) > 0 && !startswith("sha-", var.release_tag_prefix)
    error_message = "release_tag_prefix must be non-empty and must not be a prefix of the sha- commit tags."
  }
}

variable "replica_regions" {
  type        = list(string)
  description = "Regions images are replicated to (the DR region)."
  default     = []
}
