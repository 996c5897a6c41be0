# Cross-region replication of the buckets the business cannot lose (creatives,
# backups, audit archive) to the DR region, encrypted there with a DR-region key.
#
# The replicas' recovery point is bounded and watched: S3 Replication Time
# Control (RTC) replicates 99.99 % of new objects within 15 minutes (S3's SLA)
# and turns on the rule's replication metrics (AWS/S3 ReplicationLatency,
# BytesPendingReplication, OperationsPendingReplication,
# OperationsFailedReplication); the alarms at the end of this file tell the
# warning subscribers when the DR copies lag more than those 15 minutes or an
# object failed to replicate (docs/runbooks/dr-failover.md, "Object
# replication to the DR region").

locals {
  replication_rule_id = "to-dr-region"
  # RTC's threshold: the only value S3 accepts, for the replication time and
  # the metrics' event threshold alike.
  replication_minutes = 15
}

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
    Statement = [
      {
        Sid       = "AccountAdministersTheKeyThroughIAM"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.dr.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # The replication latency alarms' topic (below) is encrypted with this key.
        Sid       = "CloudWatchPublishesToTheEncryptedAlarmTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
    ]
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
    id     = local.replication_rule_id
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

      # RTC: 99.99 % of new objects in the DR region within 15 minutes; S3
      # requires the metrics with it.
      replication_time {
        status = "Enabled"
        time {
          minutes = local.replication_minutes
        }
      }

      # ReplicationLatency, OperationsFailedReplication and the pending
      # bytes/operations per rule, in CloudWatch (the alarms below), and
      # s3:Replication:OperationMissedThreshold events for objects later than
      # the threshold.
      metrics {
        status = "Enabled"
        event_threshold {
          minutes = local.replication_minutes
        }
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this, aws_s3_bucket_versioning.replica]
}

# ---------------------------------------------------------------------------
# Alarms on the replication metrics RTC turns on, one pair per replicated
# bucket: the primary still serves, but the DR copies are not what the
# recovery point promises. S3 publishes each metric in one region only
# (docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html), and an
# alarm can watch only its own region's metrics and tell only its own
# region's SNS topics:
#   OperationsFailedReplication  source region (aws):   alarm_topic_arns,
#                                the monitoring module's warning topic;
#   ReplicationLatency           destination region (aws.dr): the topic
#                                below, with the warning topic's subscribers
#                                (dr_alarm_subscriptions).

locals {
  # S3 publishes the metrics per rule: source and destination bucket names, rule id.
  replication_dimensions = {
    for k in keys(local.replicated) : k => {
      SourceBucket      = aws_s3_bucket.this[k].bucket
      DestinationBucket = aws_s3_bucket.replica[k].bucket
      RuleId            = local.replication_rule_id
    }
  }
  replication_runbook = "Runbook: docs/runbooks/dr-failover.md#object-replication-to-the-dr-region"
}

resource "aws_sns_topic" "dr_alarms" {
  provider = aws.dr
  count    = var.replicate_to_dr ? 1 : 0

  name              = "${var.name}-alarms-warning-dr"
  kms_master_key_id = aws_kms_key.dr[0].arn
}

data "aws_iam_policy_document" "dr_alarms" {
  count = var.replicate_to_dr ? 1 : 0

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.dr_alarms[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.dr.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "dr_alarms" {
  provider = aws.dr
  count    = var.replicate_to_dr ? 1 : 0

  arn    = aws_sns_topic.dr_alarms[0].arn
  policy = data.aws_iam_policy_document.dr_alarms[0].json
}

resource "aws_sns_topic_subscription" "dr_alarms" {
  provider = aws.dr
  for_each = var.replicate_to_dr ? { for s in var.dr_alarm_subscriptions : "${s.protocol}-${s.endpoint}" => s } : {}

  topic_arn = aws_sns_topic.dr_alarms[0].arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

resource "aws_cloudwatch_metric_alarm" "replication_latency" {
  provider = aws.dr
  for_each = local.replicated

  alarm_name          = "${var.name}-warning-s3-replication-latency-${each.key}"
  alarm_description   = "The DR replica ${aws_s3_bucket.replica[each.key].bucket} lags ${aws_s3_bucket.this[each.key].bucket} by more than ${local.replication_minutes} minutes, S3 RTC's bound: a failover now would miss the newest objects. ${local.replication_runbook}"
  namespace           = "AWS/S3"
  metric_name         = "ReplicationLatency"
  dimensions          = local.replication_dimensions[each.key]
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.replication_minutes * 60
  # S3 publishes the latency of a rule whether or not anything replicates;
  # a period without a datapoint is not taken for lag.
  treat_missing_data = "notBreaching"
  alarm_actions      = aws_sns_topic.dr_alarms[*].arn
  ok_actions         = aws_sns_topic.dr_alarms[*].arn

  depends_on = [aws_sns_topic_policy.dr_alarms]
}

# A failed object is not retried: it stays FAILED, and out of the DR region,
# until it is replicated again (the runbook), so the alarm's return to OK
# five quiet minutes later repairs nothing: it tells only that it fired.
resource "aws_cloudwatch_metric_alarm" "replication_failed" {
  for_each = local.replicated

  alarm_name          = "${var.name}-warning-s3-replication-failed-${each.key}"
  alarm_description   = "Objects of ${aws_s3_bucket.this[each.key].bucket} failed to replicate to ${aws_s3_bucket.replica[each.key].bucket}: they are not in the DR region until replicated again. ${local.replication_runbook}"
  namespace           = "AWS/S3"
  metric_name         = "OperationsFailedReplication"
  dimensions          = local.replication_dimensions[each.key]
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
}
