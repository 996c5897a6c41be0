# The ECR repository every environment pulls p360 images from. Images are built
# once by the pipeline and promoted by tag; tags are immutable, so a version
# always means the same bytes. Replicated to the DR region.

data "aws_caller_identity" "current" {}

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

# ECR has no "keep" action; instead, an image that matches the tag selection of
# a rule cannot be expired by any rule of lower priority. Rule 1 selects every
# image carrying a release tag (v<semver>, put on the main build's image by the
# tag pipeline's image-promote job) and expires only beyond a count no
# repository reaches, so a released image, which also carries its sha- tag, is
# never taken by rule 3.
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Release images (${var.release_tag_prefix}*) are kept"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = [var.release_tag_prefix]
          countType     = "imageCountMoreThan"
          countNumber   = 9999
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Untagged layers go after a week"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 3
        description  = "Keep the newest ${var.keep_images} commit builds"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["sha-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

resource "aws_ecr_replication_configuration" "this" {
  count = length(var.replica_regions) > 0 ? 1 : 0

  replication_configuration {
    rule {
      dynamic "destination" {
        for_each = var.replica_regions
        content {
          region      = destination.value
          registry_id = data.aws_caller_identity.current.account_id
        }
      }
      repository_filter {
        filter      = var.name
        filter_type = "PREFIX_MATCH"
      }
    }
  }
}
