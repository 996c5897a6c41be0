# Account-level detective controls: GuardDuty, CloudTrail and AWS Config.
# Each is one per account and region; var.enable_account_controls turns them
# off where another stack of the same account already owns them.

resource "aws_guardduty_detector" "this" {
  # checkov:skip=CKV2_AWS_3:One account holds every environment and is in no AWS Organization, so there is no delegated administrator to name; the stack with enable_account_controls (production, and DR in its region) owns the account's detector per region.
  count = var.enable_account_controls ? 1 : 0

  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
}

resource "aws_guardduty_detector_feature" "this" {
  for_each = var.enable_account_controls ? toset(["S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "EBS_MALWARE_PROTECTION"]) : toset([])

  detector_id = aws_guardduty_detector.this[0].id
  name        = each.value
  status      = "ENABLED"
}

resource "aws_guardduty_detector_feature" "runtime" {
  count = var.enable_account_controls ? 1 : 0

  detector_id = aws_guardduty_detector.this[0].id
  name        = "RUNTIME_MONITORING"
  status      = "ENABLED"

  additional_configuration {
    name   = "ECS_FARGATE_AGENT_MANAGEMENT"
    status = "ENABLED"
  }
}

# CloudTrail: every region, management events plus S3 data events on the
# platform's buckets, log file validation, KMS-encrypted, copied to CloudWatch Logs.

resource "aws_s3_bucket" "trail" {
  # checkov:skip=CKV_AWS_144:The trail is multi-region already and its bucket has Object Lock; a second copy is not needed for audit.
  # checkov:skip=CKV2_AWS_62:Nothing consumes new trail objects as events; CloudTrail notifies through its own SNS option.
  count = var.enable_account_controls ? 1 : 0

  bucket              = "${var.name}-cloudtrail-${local.account_id}"
  force_destroy       = false
  object_lock_enabled = true
}

resource "aws_s3_bucket_versioning" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.trail_retention_days
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket                  = aws_s3_bucket.trail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_logging" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket        = aws_s3_bucket.trail[0].id
  target_bucket = var.access_logs_bucket_id
  target_prefix = "s3/cloudtrail/"
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id

  rule {
    id     = "archive-then-expire"
    status = "Enabled"
    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER"
    }
    expiration {
      days = var.trail_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "trail_bucket" {
  count = var.enable_account_controls ? 1 : 0

  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "CloudTrailAndConfigWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail[0].arn}/AWSLogs/${local.account_id}/*", "${aws_s3_bucket.trail[0].arn}/config/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.trail[0].arn, "${aws_s3_bucket.trail[0].arn}/*"]
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

resource "aws_s3_bucket_policy" "trail" {
  count = var.enable_account_controls ? 1 : 0

  bucket = aws_s3_bucket.trail[0].id
  policy = data.aws_iam_policy_document.trail_bucket[0].json
}

resource "aws_cloudwatch_log_group" "trail" {
  count = var.enable_account_controls ? 1 : 0

  name              = "/aws/cloudtrail/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "trail_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "trail" {
  count = var.enable_account_controls ? 1 : 0

  name                 = "${var.name}-cloudtrail-logs"
  assume_role_policy   = data.aws_iam_policy_document.trail_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy" "trail" {
  count = var.enable_account_controls ? 1 : 0

  name = "write-trail-logs"
  role = aws_iam_role.trail[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.trail[0].arn}:*"
    }]
  })
}

resource "aws_cloudtrail" "this" {
  count = var.enable_account_controls ? 1 : 0

  name                          = var.name
  s3_bucket_name                = aws_s3_bucket.trail[0].id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.main.arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail[0].arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail[0].arn
  sns_topic_name                = var.trail_sns_topic_arn

  event_selector {
    read_write_type           = "All"
    include_management_events = true

    dynamic "data_resource" {
      for_each = length(var.bucket_arns) > 0 ? [1] : []
      content {
        type   = "AWS::S3::Object"
        values = [for arn in values(var.bucket_arns) : "${arn}/"]
      }
    }
  }

  depends_on = [aws_s3_bucket_policy.trail]
}

# AWS Config: record every resource, evaluate the rules the plan's compliance
# checklist names.

data "aws_iam_policy_document" "config_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "config" {
  count = var.enable_account_controls ? 1 : 0

  name                 = "${var.name}-aws-config"
  assume_role_policy   = data.aws_iam_policy_document.config_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "config" {
  count = var.enable_account_controls ? 1 : 0

  role       = aws_iam_role.config[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

resource "aws_iam_role_policy" "config_delivery" {
  count = var.enable_account_controls ? 1 : 0

  name = "deliver-to-trail-bucket"
  role = aws_iam_role.config[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:PutObjectAcl"]
        Resource = "${aws_s3_bucket.trail[0].arn}/config/AWSLogs/${local.account_id}/*"
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetBucketAcl"]
        Resource = aws_s3_bucket.trail[0].arn
      },
      {
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = aws_kms_key.main.arn
      },
    ]
  })
}

resource "aws_config_configuration_recorder" "this" {
  count = var.enable_account_controls ? 1 : 0

  name     = var.name
  role_arn = aws_iam_role.config[0].arn

  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "this" {
  count = var.enable_account_controls ? 1 : 0

  name           = var.name
  s3_bucket_name = aws_s3_bucket.trail[0].id
  s3_key_prefix  = "config"
  s3_kms_key_arn = aws_kms_key.main.arn

  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }

  depends_on = [aws_config_configuration_recorder.this, aws_s3_bucket_policy.trail]
}

resource "aws_config_configuration_recorder_status" "this" {
  count = var.enable_account_controls ? 1 : 0

  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true

  depends_on = [aws_config_delivery_channel.this]
}

locals {
  config_rules = {
    "cloudtrail-enabled"                = "CLOUD_TRAIL_ENABLED"
    "cloudtrail-log-file-validation"    = "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"
    "guardduty-enabled"                 = "GUARDDUTY_ENABLED_CENTRALIZED"
    "vpc-flow-logs-enabled"             = "VPC_FLOW_LOGS_ENABLED"
    "vpc-default-sg-closed"             = "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
    "restricted-ssh"                    = "INCOMING_SSH_DISABLED"
    "s3-bucket-sse-enabled"             = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
    "s3-bucket-public-read-prohibited"  = "S3_BUCKET_PUBLIC_READ_PROHIBITED"
    "s3-bucket-public-write-prohibited" = "S3_BUCKET_PUBLIC_WRITE_PROHIBITED"
    "s3-bucket-ssl-requests-only"       = "S3_BUCKET_SSL_REQUESTS_ONLY"
    "rds-storage-encrypted"             = "RDS_STORAGE_ENCRYPTED"
    "rds-instance-public-access-check"  = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK"
    "rds-backup-enabled"                = "DB_INSTANCE_BACKUP_ENABLED"
    "elasticache-redis-backup"          = "ELASTICACHE_REDIS_CLUSTER_AUTOMATIC_BACKUP_CHECK"
    "alb-waf-enabled"                   = "ALB_WAF_ENABLED"
    "acm-certificate-expiration-check"  = "ACM_CERTIFICATE_EXPIRATION_CHECK"
    "iam-root-access-key-check"         = "IAM_ROOT_ACCESS_KEY_CHECK"
    "root-account-mfa-enabled"          = "ROOT_ACCOUNT_MFA_ENABLED"
    "secretsmanager-using-cmk"          = "SECRETSMANAGER_USING_CMK"
    "cloudwatch-log-group-encrypted"    = "CLOUDWATCH_LOG_GROUP_ENCRYPTED"
    "ecs-task-definition-nonroot-user"  = "ECS_TASK_DEFINITION_NONROOT_USER"
    "ecs-containers-readonly-root-fs"   = "ECS_CONTAINERS_READONLY_ACCESS"
    "api-gw-execution-logging-enabled"  = "API_GW_EXECUTION_LOGGING_ENABLED"
    "cloudfront-viewer-policy-https"    = "CLOUDFRONT_VIEWER_POLICY_HTTPS"
    "multi-region-cloudtrail-enabled"   = "MULTI_REGION_CLOUD_TRAIL_ENABLED"
    "sns-encrypted-kms"                 = "SNS_ENCRYPTED_KMS"
    "dynamodb-pitr-enabled"             = "DYNAMODB_PITR_ENABLED"
    "rds-multi-az-support"              = "RDS_MULTI_AZ_SUPPORT"
    "elb-deletion-protection-enabled"   = "ELB_DELETION_PROTECTION_ENABLED"
    "lambda-inside-vpc"                 = "LAMBDA_INSIDE_VPC"
  }
}

# CLOUDFRONT_VIEWER_POLICY_HTTPS (like every CloudFront rule) exists only in
# us-east-1, where CloudFront's configuration items are recorded; the DR
# environment's recorder in us-west-2 cannot create it.
locals {
  us_east_1_only_rules = ["cloudfront-viewer-policy-https"]
  region_config_rules = {
    for k, v in local.config_rules : k => v
    if data.aws_region.current.name == "us-east-1" || !contains(local.us_east_1_only_rules, k)
  }
}

resource "aws_config_config_rule" "this" {
  for_each = var.enable_account_controls ? local.region_config_rules : {}

  name = "${var.name}-${each.key}"

  source {
    owner             = "AWS"
    source_identifier = each.value
  }

  depends_on = [aws_config_configuration_recorder.this]
}
