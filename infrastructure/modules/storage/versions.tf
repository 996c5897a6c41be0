terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
      # aws.dr: the disaster-recovery region that replicas of the critical buckets live in.
      configuration_aliases = [aws.dr]
    }
  }
}
