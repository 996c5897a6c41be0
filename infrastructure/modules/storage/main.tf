data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id

  # Purpose => settings. Names carry the account id: bucket names are global.
  buckets = {
    creatives = {
      description        = "Uploaded creatives (images, HTML5 bundles) served in previews and pushed to TTD"
      expire_days        = null
      noncurrent_days    = 90
      archive_days       = null
      replicate          = true
      object_lock_days   = null
      ia_transition_days = var.ia_transition_days
    }
    uploads = {
      description        = "Account-list CSVs and partner files (Bombora, TTD reports) landing for ingestion"
      expire_days        = var.uploads_expire_days
      noncurrent_days    = 7
      archive_days       = null
      replicate          = false
      object_lock_days   = null
      ia_transition_days = null
    }
    exports = {
      description        = "Report and data exports users download"
      expire_days        = var.exports_expire_days
      noncurrent_days    = 7
      archive_days       = null
      replicate          = false
      object_lock_days   = null
      ia_transition_days = null
    }
    backups = {
      description        = "Logical database dumps (p360 backup) beside RDS's own snapshots"
      expire_days        = var.backups_expire_days
      noncurrent_days    = 30
      archive_days       = 30
      replicate          = true
      object_lock_days   = null
      ia_transition_days = null
    }
    audit-archive = {
      description        = "Monthly audit-log partitions, hash-chained, write-once"
      expire_days        = null
      noncurrent_days    = null
      archive_days       = 90
      replicate          = true
      object_lock_days   = var.audit_lock_days
      ia_transition_days = null
    }
  }

  replicated = { for k, v in local.buckets : k => v if v.replicate && var.replicate_to_dr }
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144:Creatives, backups and the audit archive replicate to the DR region (aws_s3_bucket_replication_configuration.dr); uploads and exports are transient and re-creatable.
  # checkov:skip=CKV2_AWS_62:Only the uploads bucket has consumers for new objects; its notification is owned by the messaging module (one notification resource per bucket).
  for_each = local.buckets

  bucket              = "${var.name}-${each.key}-${local.account_id}"
  force_destroy       = var.force_destroy
  object_lock_enabled = each.value.object_lock_days != null

  tags = { Purpose = each.value.description }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each = local.buckets

  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/${each.key}/"

  # Server access logging checks that the target's policy lets the logging service write.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_object_lock_configuration" "this" {
  for_each = { for k, v in local.buckets : k => v if v.object_lock_days != null }

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    default_retention {
      mode = var.audit_lock_mode
      days = each.value.object_lock_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "default"
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

    dynamic "transition" {
      for_each = each.value.ia_transition_days == null ? [] : [each.value.ia_transition_days]
      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }

    dynamic "transition" {
      for_each = each.value.archive_days == null ? [] : [each.value.archive_days]
      content {
        days          = transition.value
        storage_class = "GLACIER_IR"
      }
    }

    dynamic "noncurrent_version_expiration" {
      for_each = each.value.noncurrent_days == null ? [] : [each.value.noncurrent_days]
      content {
        noncurrent_days = noncurrent_version_expiration.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[each.key].arn, "${aws_s3_bucket.this[each.key].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
