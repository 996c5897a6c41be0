# Queues, topics and the event-processing Lambda.
#
#   S3 "file landed" (uploads bucket, partner-files/) --> Lambda landing-lambda --> SQS ingest --> p360 worker
#   p360 (outbox relay, jobs.backend = "sqs")     --> SQS default, activation, events (+ -dlq) --> p360 worker
#   p360                                          --> SNS alerts / notifications

data "aws_caller_identity" "current" {}

# ---------------------------------------------------------------------------
# SQS: every queue has a dead-letter queue that keeps failed messages 14 days.

resource "aws_sqs_queue" "dlq" {
  for_each = var.queues

  name                              = "${var.name}-${each.key}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "this" {
  for_each = var.queues

  name                              = "${var.name}-${each.key}"
  visibility_timeout_seconds        = each.value.visibility_timeout_seconds
  message_retention_seconds         = each.value.retention_seconds
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

# ---------------------------------------------------------------------------
# SNS: alerts (operational and business alerts the application raises, e.g.
# pacing or sync failures) and notifications (messages to users).

resource "aws_sns_topic" "this" {
  for_each = toset(["alerts", "notifications"])

  name              = "${var.name}-${each.key}"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "alerts_email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.this["alerts"].arn
  protocol  = "email"
  endpoint  = each.value
}

# ---------------------------------------------------------------------------
# Lambda landing-lambda (crates/landing-lambda, Rust on lambda_runtime): turns
# S3 "object created" events of the uploads bucket into messages on the ingest
# queue. The pipeline builds the zip (make lambda) before terraform plan.

resource "aws_cloudwatch_log_group" "lambda" {
  name              = "/aws/lambda/${var.name}-landing"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name                 = "${var.name}-landing-lambda"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "lambda_vpc" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_iam_policy_document" "lambda" {
  # checkov:skip=CKV_AWS_111:X-Ray trace writes support no resource-level restriction.
  # checkov:skip=CKV_AWS_356:X-Ray trace writes support no resource-level restriction.
  statement {
    sid       = "SendToIngestQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this[var.landing_queue_key].arn, aws_sqs_queue.dlq[var.landing_queue_key].arn]
  }
  statement {
    sid       = "UseThePlatformKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "landing-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_lambda_function" "landing" {
  # checkov:skip=CKV_AWS_272:The zip is built and deployed only by the protected pipeline; AWS Signer code signing is a later hardening step.
  function_name = "${var.name}-landing"
  description   = "S3 file-landed events to the ingest queue"
  role          = aws_iam_role.lambda.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.lambda_architecture]
  memory_size      = 128
  timeout          = 30

  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      P360_INGEST_QUEUE_URL = aws_sqs_queue.this[var.landing_queue_key].url
      RUST_LOG              = "info"
    }
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }

  tracing_config {
    mode = "Active"
  }

  # Events S3 could not deliver to the function after its retries.
  dead_letter_config {
    target_arn = aws_sqs_queue.dlq[var.landing_queue_key].arn
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda.name
  }

  depends_on = [aws_iam_role_policy.lambda, aws_iam_role_policy_attachment.lambda_vpc]
}

resource "aws_lambda_permission" "s3" {
  statement_id   = "AllowUploadsBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.landing.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = var.landing_bucket_arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "landing" {
  bucket = var.landing_bucket_id

  lambda_function {
    lambda_function_arn = aws_lambda_function.landing.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.landing_prefix
  }

  depends_on = [aws_lambda_permission.s3]
}
