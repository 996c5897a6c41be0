# Least-privilege roles for the ECS tasks. Four roles:
#   execution - used by ECS itself: pull the image, write logs, inject secrets
#   api       - what `p360 serve` may touch at run time
#   worker    - what `p360 worker` may touch at run time (adds queues consumption,
#               backups, the audit archive and the partner credentials)
#   migrate   - the one-off task with the schema owner's URL: `p360 migrate`
#               needs nothing but the database; `p360 restore-check` and
#               `p360 audit verify --restored` (after a DR failover,
#               docs/runbooks/dr-failover.md step 6) also read the files
#               bucket and the audit checkpoints - read only
# Both application roles may use the tenant secrets key (tenant_secrets.tf);
# the migrate task is given the key's name, which the configuration requires
# in production, but no permission on it.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-ecs-execution"
  description          = "ECS agent: pull p360 images, write container logs, inject secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "InjectSecretsIntoContainers"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in aws_secretsmanager_secret.this : s.arn]
  }
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "inject-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

locals {
  api_buckets     = [for k in var.api_bucket_keys : var.bucket_arns[k] if contains(keys(var.bucket_arns), k)]
  worker_buckets  = [for k in var.worker_bucket_keys : var.bucket_arns[k] if contains(keys(var.bucket_arns), k)]
  migrate_buckets = [for k in var.migrate_bucket_keys : var.bucket_arns[k] if contains(keys(var.bucket_arns), k)]
}

# Statements shared by both application roles.
data "aws_iam_policy_document" "app_common" {
  # checkov:skip=CKV_AWS_111:X-Ray trace writes and CloudWatch metric writes support no resource-level restriction.
  # checkov:skip=CKV_AWS_356:X-Ray trace writes and CloudWatch metric writes support no resource-level restriction.
  statement {
    sid       = "UseThePlatformKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = concat([aws_kms_key.main.arn], var.extra_kms_key_arns)
  }
  # The vault's two calls (tenant_secrets.tf), only with the tenant as the sole
  # encryption context key: GenerateDataKey makes a tenant's data key, Decrypt
  # opens it. Where the key is another stack's (DR: production's replica, whose
  # ARN this stack does not know), the keys of this region are narrowed to the
  # one its alias names.
  statement {
    sid       = "UseTheTenantSecretsKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.tenant_secrets_key_resource]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "kms:EncryptionContextKeys"
      values   = ["tenant"]
    }
    condition {
      test     = "Null"
      variable = "kms:EncryptionContext:tenant"
      values   = ["false"]
    }
    dynamic "condition" {
      for_each = local.own_tenant_secrets_key ? [] : [local.tenant_secrets_alias]
      content {
        test     = "ForAnyValue:StringEquals"
        variable = "kms:ResourceAliases"
        values   = [condition.value]
      }
    }
  }
  statement {
    sid       = "EnqueueJobs"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = var.queue_arns
  }
  statement {
    sid       = "PublishNotifications"
    actions   = ["sns:Publish"]
    resources = var.topic_arns
  }
  statement {
    sid = "WriteTraces"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
      "xray:GetSamplingStatisticSummaries",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "WriteEmbeddedMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }
  statement {
    sid       = "WriteEmbeddedMetricLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/p360/${var.environment}/*"]
  }
  dynamic "statement" {
    for_each = var.prometheus_workspace_arn == null ? [] : [var.prometheus_workspace_arn]
    content {
      sid       = "RemoteWritePrometheus"
      actions   = ["aps:RemoteWrite"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "api" {
  name                 = "${var.name}-api"
  description          = "p360 serve tasks"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "api" {
  source_policy_documents = [data.aws_iam_policy_document.app_common.json]

  statement {
    sid       = "ListFileBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.api_buckets
  }
  statement {
    sid       = "ReadWriteFiles"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for b in local.api_buckets : "${b}/*"]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "p360-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role" "worker" {
  name                 = "${var.name}-worker"
  description          = "p360 worker tasks"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [data.aws_iam_policy_document.app_common.json]

  statement {
    sid = "ConsumeQueues"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
    ]
    resources = var.queue_arns
  }
  statement {
    sid       = "ListFileBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.worker_buckets
  }
  statement {
    sid       = "ReadWriteFiles"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [for b in local.worker_buckets : "${b}/*"]
  }
  statement {
    sid       = "ReadPartnerCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for k in ["ttd", "salesforce", "bombora"] : aws_secretsmanager_secret.this[k].arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "p360-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_role" "migrate" {
  name                 = "${var.name}-migrate"
  description          = "p360 migrate, restore-check and audit verify one-off tasks: read the files bucket and the audit checkpoints"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "migrate" {
  statement {
    sid       = "ListCheckedBuckets"
    actions   = ["s3:ListBucket"]
    resources = local.migrate_buckets
  }
  statement {
    sid       = "ReadCheckedObjects"
    actions   = ["s3:GetObject"]
    resources = [for b in local.migrate_buckets : "${b}/*"]
  }
  statement {
    sid       = "DecryptCheckedObjects"
    actions   = ["kms:Decrypt"]
    resources = concat([aws_kms_key.main.arn], var.extra_kms_key_arns)
  }
}

resource "aws_iam_role_policy" "migrate" {
  name   = "p360-migrate"
  role   = aws_iam_role.migrate.id
  policy = data.aws_iam_policy_document.migrate.json
}
