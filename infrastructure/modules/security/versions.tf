terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
      # aws.global: us-east-1, where CloudFront-scoped WAF ACLs must live.
      # aws.dr:     the disaster-recovery region (replica of the tenant secrets key).
      configuration_aliases = [aws.global, aws.dr]
    }
  }
}
