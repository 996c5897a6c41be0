terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
      # aws.dr: the disaster-recovery region automated backups are replicated to.
      configuration_aliases = [aws.dr]
    }
  }
}
