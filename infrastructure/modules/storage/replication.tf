# Cross-region replication of the buckets the business cannot lose (creatives,
# backups, audit archive) to the DR region, encrypted there with a DR-region key.

data "aws_caller_identity" "dr" {
  provider = aws.dr
}

resource "aws_kms_key" "dr" {
  provider = aws.dr
  count    = var.replicate_to_dr ? 1 : 0

  description             = "${var.name}: S3 replicas in the DR region"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersTheKeyThroughIAM"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.dr.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_kms_alias" "dr" {
  provider = aws.dr
  count    = var.replicate_to_dr ? 1 : 0

  name          = "alias/${var.name}-s3-dr"
  target_key_id = aws_kms_key.dr[0].key_id
}

resource "aws_s3_bucket" "replica" {
  # checkov:skip=CKV_AWS_144:This is the cross-region replica; replicating it again would be circular.
  # checkov:skip=CKV_AWS_18:Replica buckets are written only by S3 replication; the source buckets keep access logs.
  # checkov:skip=CKV2_AWS_62:Replicas are read only during a DR failover.
  provider = aws.dr
  for_each = local.replicated

  bucket              = "${var.name}-${each.key}-dr-${local.account_id}"
  force_destroy       = var.force_destroy
  object_lock_enabled = each.value.object_lock_days != null
}

resource "aws_s3_bucket_versioning" "replica" {
  provider = aws.dr
  for_each = local.replicated

  bucket = aws_s3_bucket.replica[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  provider = aws.dr
  for_each = local.replicated

  bucket = aws_s3_bucket.replica[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.dr[0].arn
    }
    bucket_key_enabled = true
  }
}

# Replication carries delete markers but not lifecycle expirations (S3 does
# not replicate actions a lifecycle rule takes), so each replica applies its
# source's rules itself: the same expirations and noncurrent-version expiry,
# or the replicas would keep every backup and old creative version for ever.
resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  provider = aws.dr
  for_each = local.replicated

  bucket = aws_s3_bucket.replica[each.key].id

  rule {
    id     = "as-the-source"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    dynamic "expiration" {
      for_each = each.value.expire_days == null ? [] : [each.value.expire_days]
      content {
        days = expiration.value
      }
    }

    dynamic "noncurrent_version_expiration" {
      for_each = each.value.noncurrent_days == null ? [] : [each.value.noncurrent_days]
      content {
        noncurrent_days = noncurrent_version_expiration.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.replica]
}

resource "aws_s3_bucket_public_access_block" "replica" {
  provider = aws.dr
  for_each = local.replicated

  bucket                  = aws_s3_bucket.replica[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "replication_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  count = var.replicate_to_dr ? 1 : 0

  name                 = "${var.name}-s3-replication"
  assume_role_policy   = data.aws_iam_policy_document.replication_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "replication" {
  count = var.replicate_to_dr ? 1 : 0

  statement {
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [for k in keys(local.replicated) : aws_s3_bucket.this[k].arn]
  }
  statement {
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
      "s3:GetObjectRetention",
      "s3:GetObjectLegalHold",
    ]
    resources = [for k in keys(local.replicated) : "${aws_s3_bucket.this[k].arn}/*"]
  }
  statement {
    actions = [
      "s3:ReplicateObject",
      "s3:ReplicateDelete",
      "s3:ReplicateTags",
      "s3:ObjectOwnerOverrideToBucketOwner",
    ]
    resources = [for b in aws_s3_bucket.replica : "${b.arn}/*"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  statement {
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.dr[0].arn]
  }
}

resource "aws_iam_role_policy" "replication" {
  count = var.replicate_to_dr ? 1 : 0

  name   = "replicate-to-dr"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "dr" {
  for_each = local.replicated

  bucket = aws_s3_bucket.this[each.key].id
  role   = aws_iam_role.replication[0].arn

  rule {
    id     = "to-dr-region"
    status = "Enabled"
    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket        = aws_s3_bucket.replica[each.key].arn
      storage_class = "STANDARD_IA"

      encryption_configuration {
        replica_kms_key_id = aws_kms_key.dr[0].arn
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this, aws_s3_bucket_versioning.replica]
}
