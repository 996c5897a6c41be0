locals {
  # Cost allocation tags (activated in environments/shared): every resource
  # carries them through the providers' default_tags.
  tags = {
    Project     = "p360"
    Environment = "dev"
    CostCenter  = var.cost_center
    ManagedBy   = "terraform"
    Repository  = "p360-display"
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# CloudFront certificates and WAF ACLs live in us-east-1 whatever the region.
provider "aws" {
  alias  = "global"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}

provider "aws" {
  alias  = "dr"
  region = var.dr_region

  default_tags {
    tags = local.tags
  }
}
