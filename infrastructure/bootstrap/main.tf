# The remote state backends: one in the primary region for shared, dev,
# staging and production, and one in the DR region for environments/dr, so that
# a failover never depends on the region it leaves. Each is a versioned,
# KMS-encrypted S3 bucket with a DynamoDB lock table. Applied once per account,
# before anything else (docs/runbooks/environment-setup.md).

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "p360"
      ManagedBy = "terraform"
      Purpose   = "terraform-state"
    }
  }
}

provider "aws" {
  alias  = "dr"
  region = var.dr_region

  default_tags {
    tags = {
      Project   = "p360"
      ManagedBy = "terraform"
      Purpose   = "terraform-state"
    }
  }
}

module "primary" {
  source = "./backend"

  bucket_name = var.state_bucket_name
  table_name  = var.lock_table_name
}

module "dr" {
  source    = "./backend"
  providers = { aws = aws.dr }

  bucket_name = "${var.state_bucket_name}-dr"
  table_name  = "${var.lock_table_name}-dr"
}
