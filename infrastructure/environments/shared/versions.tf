terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # State bucket and lock table are made once by infrastructure/bootstrap.
  backend "s3" {
    bucket         = "p360-terraform-state"
    key            = "shared/terraform.tfstate"
    region         = "us-east-1"
    dynamodb_table = "p360-terraform-locks"
    encrypt        = true
  }
}
