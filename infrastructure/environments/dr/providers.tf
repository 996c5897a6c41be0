locals {
  tags = {
    Project     = "p360"
    Environment = "dr"
    CostCenter  = var.cost_center
    ManagedBy   = "terraform"
    Repository  = "p360-display"
  }
}

# The DR environment runs in us-west-2 ...
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# Providers aimed at us-east-1 ask STS in this region, so that they configure
# even while us-east-1 is down (nothing in a failover writes there).
provider "aws" {
  alias      = "global"
  region     = "us-east-1"
  sts_region = var.region

  default_tags {
    tags = local.tags
  }
}

# ... and its own "DR partner" is the primary region, should it come back first.
provider "aws" {
  alias      = "dr"
  region     = var.primary_region
  sts_region = var.region

  default_tags {
    tags = local.tags
  }
}
