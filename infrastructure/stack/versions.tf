terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
      # aws.global: us-east-1 (CloudFront certificate and WAF ACL).
      # aws.dr:     the disaster-recovery region (replicated backups and buckets).
      configuration_aliases = [aws.global, aws.dr]
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}
