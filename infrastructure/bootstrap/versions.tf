terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # Local state on purpose: this stack creates the remote state backend itself.
  # Keep its terraform.tfstate with the ops team (it holds no secrets).
}
