locals {
  tags = {
    Project     = "p360"
    Environment = "shared"
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
