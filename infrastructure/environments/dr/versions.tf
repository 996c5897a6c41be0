terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State bucket and lock table are made once by infrastructure/bootstrap.
  backend "s3" {
    # In the DR region, so that a failover never needs the region it leaves.
    bucket         = "p360-terraform-state-dr"
    key            = "dr/terraform.tfstate"
    region         = "us-west-2"
    dynamodb_table = "p360-terraform-locks-dr"
    encrypt        = true
  }
}
