# The monthly restore test (docs/runbooks/dr-failover.md, "Monthly restore
# test"): a backup counts once a restore of it has been checked. EventBridge
# Scheduler starts a Step Functions state machine that
#   1. restores the environment's database at its latest restorable time into
#      a scratch instance, <name>-restore-test (RestoreDBInstanceToPointInTime:
#      the source's subnet group, security group and parameter group, a small
#      class, single-AZ, not public, no deletion protection; a point-in-time
#      restore keeps the source's KMS key, there is no other to choose);
#   2. polls DescribeDBInstances (Wait 60 s, at most restore_timeout_minutes)
#      until it is available, and checks that its endpoint is the host the
#      restore-test secret names;
#   3. runs `p360 restore-check --record` as a one-off Fargate task
#      (ecs:runTask.sync; exit 1 = the restore is not whole, which fails the
#      state), which records its result under restore-checks/ in the files
#      bucket, where the worker's hourly backup.restore_check_metrics reads it
#      (alerts P360RestoreTestFailed, P360RestoreTestOverdue);
#   4. deletes the scratch instance (no final snapshot, its automated backups
#      too) whatever happened in 1-3 (every Catch leads there), and then
#      fails the execution if anything did; a failed execution raises the
#      CloudWatch alarm below.
#
# The database URL. The tasks get whole PostgreSQL URLs, host included, from
# Secrets Manager (P360_DATABASE__URL from the `database` secret, and
# P360_DATABASE__APP_URL). Building a URL for the scratch host inside the
# state machine (GetSecretValue, then States.Format / a string replace, passed
# as an environment override) would copy the schema owner's password into
# the execution history (every state's input and output is kept 90 days) and
# into the task's overrides, which DescribeTasks shows and CloudTrail records
# with every RunTask (kept under Object Lock for years). So the credentials
# never pass through the state machine: the restore-check task definition
# below takes P360_DATABASE__URL and P360_DATABASE__APP_URL from a secret of
# its own, <name>/database-restore-test, JSON {"url": ..., "app_url": ...}:
# the environment's two URLs with the host replaced by the scratch instance's
# endpoint. That endpoint is fixed: the identifier is, and RDS endpoints are
# <identifier>.<id of the account and region>.<region>.rds.amazonaws.com, so
# it is the source's with the first label changed (output scratch_address).
# A restore keeps the roles and their passwords, so the environment's URLs
# work there once the host is changed. The runbook puts the secret (and puts
# it again after a password change); the state machine compares the scratch
# instance's endpoint with scratch_address before it runs the check, and a
# secret that does not match fails the check (it cannot connect) and so the
# execution: nothing passes silently.
#
# AWS Backup would not replace this: its restore testing can restore an RDS
# backup on a schedule, but validating one means running our own check
# against it all the same. What it would add is covered in the database
# module (the note above its backup replication).

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

# The providers' default tags (Project, Environment, CostCenter): resources
# the state machine creates get them too, for cost allocation.
data "aws_default_tags" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  rds_arn    = "arn:${local.partition}:rds:${local.region}:${local.account_id}"
  ecs_arn    = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"

  scratch_identifier = "${var.name}-restore-test"
  scratch_arn        = "${local.rds_arn}:db:${local.scratch_identifier}"
  # The source's endpoint with the scratch instance's identifier as its first label.
  scratch_address = replace(var.source_db_address, "/^[^.]+/", local.scratch_identifier)
  cluster_arn     = "${local.ecs_arn}:cluster/${var.cluster_name}"
  family          = "${var.name}-restore-check"

  # Everything the other tasks get from Secrets Manager except the database
  # URLs, which name the environment's own instance; those come from the
  # restore-test secret (see the header).
  kept_secrets = { for k, v in var.secret_environment : k => v if !startswith(k, "P360_DATABASE__") }
  container_secrets = concat(
    [for k, v in local.kept_secrets : { name = k, valueFrom = v }],
    [
      { name = "P360_DATABASE__URL", valueFrom = "${aws_secretsmanager_secret.database.arn}:url::" },
      { name = "P360_DATABASE__APP_URL", valueFrom = "${aws_secretsmanager_secret.database.arn}:app_url::" },
    ],
  )
  # The secrets themselves, without a JSON key suffix (:key::), for IAM.
  secret_arns = distinct(concat(
    [for v in values(local.kept_secrets) : regex("^arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+", v)],
    [aws_secretsmanager_secret.database.arn],
  ))

  scratch_tags = [
    for k, v in merge(data.aws_default_tags.current.tags, { Name = local.scratch_identifier, Purpose = "restore-test" }) :
    { Key = k, Value = v }
  ]
  # RDS states after which the scratch instance never becomes available.
  restore_dead_ends = [
    "failed", "incompatible-restore", "incompatible-parameters", "incompatible-network",
    "incompatible-option-group", "storage-full", "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable", "restore-error", "deleting", "stopped",
  ]
}

# ---------------------------------------------------------------------------
# The restore-check task

resource "aws_secretsmanager_secret" "database" {
  # checkov:skip=CKV2_AWS_57:It holds copies of the database and database-app URLs with another host; they change when those are changed (the migration runbook), which no rotation Lambda can follow.
  name                    = "${var.name}/database-restore-test"
  description             = "JSON {\"url\", \"app_url\"}: the database and database-app URLs with the host ${local.scratch_identifier}'s endpoint (P360_DATABASE__URL and P360_DATABASE__APP_URL of the restore-check task)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_cloudwatch_log_group" "task" {
  name              = "/p360/${var.environment}/restore-check"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

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

# ECS itself: pull the image, write the log, inject exactly this task's secrets.
resource "aws_iam_role" "execution" {
  name                 = "${var.name}-restore-check-execution"
  description          = "ECS agent of the restore-check task: pull the p360 image, write its log, inject its secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "InjectTheTasksSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "inject-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# What `p360 restore-check --record` touches besides the database: it looks
# the newest creatives' files up (HEAD; a missing one answers 404 only with
# ListBucket) and writes its result under restore-checks/. Nothing else.
resource "aws_iam_role" "task" {
  name                 = "${var.name}-restore-check"
  description          = "p360 restore-check: read the files bucket, write restore-checks/"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ListTheFilesBucket"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.files_bucket_name}"]
  }
  statement {
    sid       = "LookUpFiles"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.files_bucket_name}/*"]
  }
  statement {
    sid       = "RecordTheResult"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.files_bucket_name}/restore-checks/*"]
  }
  statement {
    sid       = "UseTheBucketKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = var.bucket_kms_key_arns
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "p360-restore-check"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# The same container as the compute module's (read-only root, user 10001,
# /tmp a task volume, the common environment), without the ADOT sidecar: the
# result goes to the object store, not to metrics. Each apply registers a
# revision on the image of the release it deploys; the state machine runs the
# family's latest, so the check runs the binary production runs, whose
# migrations the restored schema must be at.
resource "aws_ecs_task_definition" "restore_check" {
  family                   = local.family
  skip_destroy             = true
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "p360"
      image                  = var.image
      essential              = true
      command                = ["restore-check", "--record"]
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      environment            = concat(var.container_environment, [{ name = "OTEL_SERVICE_NAME", value = "p360-restore-check" }])
      secrets                = local.container_secrets
      mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "restore-check"
        }
      }
    },
  ])
}

# ---------------------------------------------------------------------------
# The state machine

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${var.name}-restore-test"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name                 = "${var.name}-restore-test"
  description          = "Step Functions: restore the latest backup into ${local.scratch_identifier}, run p360 restore-check, delete it"
  assume_role_policy   = data.aws_iam_policy_document.states_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "state_machine" {
  # checkov:skip=CKV_AWS_111:Log delivery setup and X-Ray trace writes support no resource-level restriction; every RDS, ECS and IAM action is bound to the scratch instance, the task family and its roles.
  # checkov:skip=CKV_AWS_356:Log delivery setup and X-Ray trace writes support no resource-level restriction; every RDS, ECS and IAM action is bound to the scratch instance, the task family and its roles.

  # Restoring reads the source and creates the target with the named subnet,
  # parameter and (default) option groups; it may create nothing but the scratch.
  statement {
    sid     = "RestoreTheSourceIntoTheScratchInstanceOnly"
    actions = ["rds:RestoreDBInstanceToPointInTime"]
    resources = [
      var.source_db_instance_arn,
      local.scratch_arn,
      "${local.rds_arn}:subgrp:${var.db_subnet_group_name}",
      "${local.rds_arn}:pg:${var.db_parameter_group_name}",
      "${local.rds_arn}:og:default:postgres-*",
    ]
  }
  statement {
    sid       = "TagWatchAndDeleteTheScratchInstance"
    actions   = ["rds:AddTagsToResource", "rds:DescribeDBInstances", "rds:DeleteDBInstance"]
    resources = [local.scratch_arn]
  }
  # RDS encrypts the restored storage with the source's key through grants
  # made with the caller's permissions: only through RDS, only for its resources.
  statement {
    sid       = "LetRDSUseTheSourcesKey"
    actions   = ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["rds.${local.region}.amazonaws.com"]
    }
  }

  # ecs:runTask.sync: run the family in this cluster, follow the task through
  # the managed EventBridge rule, stop it on a timeout or an aborted execution.
  statement {
    sid       = "RunTheRestoreCheck"
    actions   = ["ecs:RunTask"]
    resources = ["${local.ecs_arn}:task-definition/${local.family}", "${local.ecs_arn}:task-definition/${local.family}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.cluster_arn]
    }
  }
  statement {
    sid       = "FollowAndStopTheTask"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["${local.ecs_arn}:task/${var.cluster_name}/*"]
  }
  statement {
    sid       = "TagTheTaskAtLaunch"
    actions   = ["ecs:TagResource"]
    resources = ["${local.ecs_arn}:task/${var.cluster_name}/*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }
  statement {
    sid       = "PassTheTasksRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReceiveTaskStateChanges"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForECSTaskRule"]
  }

  statement {
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "restore-test"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

locals {
  scratch_status = "$.scratch.DbInstances[0].DbInstanceStatus"

  # Amazon States Language, JSONPath. AWS SDK integrations name parameters and
  # results as the SDK for Java 2 does (DbInstanceIdentifier, DbInstances,
  # DbInstanceStatus) and their errors Rds.<Exception>. No state between the
  # restore and the deletion can fail without a Catch leading to the deletion:
  # the Choice states only read paths a preceding IsPresent has checked or
  # that DescribeDBInstances always returns, and the state machine has no
  # overall timeout (a timed-out execution would skip the deletion); each wait
  # is bounded instead.
  definition = {
    Comment = "Monthly restore test of ${var.source_db_instance_identifier}: latest restorable time -> ${local.scratch_identifier} -> p360 restore-check --record -> delete ${local.scratch_identifier}"
    StartAt = "RestoreLatestBackup"
    States = {
      RestoreLatestBackup = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::aws-sdk:rds:restoreDBInstanceToPointInTime"
        Parameters = {
          SourceDBInstanceIdentifier = var.source_db_instance_identifier
          TargetDBInstanceIdentifier = local.scratch_identifier
          UseLatestRestorableTime    = true
          DbInstanceClass            = var.scratch_instance_class
          DbSubnetGroupName          = var.db_subnet_group_name
          VpcSecurityGroupIds        = [var.db_security_group_id]
          DbParameterGroupName       = var.db_parameter_group_name
          MultiAZ                    = false
          PubliclyAccessible         = false
          DeletionProtection         = false
          AutoMinorVersionUpgrade    = false
          CopyTagsToSnapshot         = false
          Tags                       = local.scratch_tags
        }
        # Not retried: a retry after a call that did create the instance
        # would find it and stop short of deleting it.
        ResultPath = null
        Catch = [
          # Another execution's scratch instance, or one a stopped execution
          # left: not this execution's to delete.
          { ErrorEquals = ["Rds.DbInstanceAlreadyExistsException"], ResultPath = "$.error", Next = "ScratchInstanceExists" },
          { ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "DeleteScratchInstance" },
        ]
        Next = "StartPolling"
      }
      StartPolling = {
        Type       = "Pass"
        Result     = { count = 0 }
        ResultPath = "$.poll"
        Next       = "WaitForScratchInstance"
      }
      WaitForScratchInstance = {
        Type    = "Wait"
        Seconds = 60
        Next    = "DescribeScratchInstance"
      }
      DescribeScratchInstance = {
        Type       = "Task"
        Resource   = "arn:${local.partition}:states:::aws-sdk:rds:describeDBInstances"
        Parameters = { DbInstanceIdentifier = local.scratch_identifier }
        ResultPath = "$.scratch"
        Retry = [{
          ErrorEquals     = ["States.ALL"]
          IntervalSeconds = 30
          MaxAttempts     = 3
          BackoffRate     = 2
        }]
        Catch = [{ ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "DeleteScratchInstance" }]
        Next  = "IsScratchInstanceAvailable"
      }
      IsScratchInstanceAvailable = {
        Type = "Choice"
        Choices = [
          { Variable = local.scratch_status, StringEquals = "available", Next = "HasScratchEndpoint" },
          { Or = [for s in local.restore_dead_ends : { Variable = local.scratch_status, StringEquals = s }], Next = "RestoreFailed" },
          { Variable = "$.poll.count", NumericGreaterThanEquals = var.restore_timeout_minutes, Next = "RestoreTimedOut" },
        ]
        Default = "CountPoll"
      }
      CountPoll = {
        Type       = "Pass"
        Parameters = { "count.$" = "States.MathAdd($.poll.count, 1)" }
        ResultPath = "$.poll"
        Next       = "WaitForScratchInstance"
      }
      RestoreFailed = {
        Type       = "Pass"
        Parameters = { Error = "RestoreFailed", "Cause.$" = "States.Format('${local.scratch_identifier} is {}: the restore did not complete', ${local.scratch_status})" }
        ResultPath = "$.error"
        Next       = "DeleteScratchInstance"
      }
      RestoreTimedOut = {
        Type       = "Pass"
        Result     = { Error = "RestoreTimedOut", Cause = "${local.scratch_identifier} was not available after ${var.restore_timeout_minutes} minutes" }
        ResultPath = "$.error"
        Next       = "DeleteScratchInstance"
      }
      # The restore-test secret names scratch_address; an endpoint elsewhere
      # would leave the check unable to connect, so say so plainly instead.
      HasScratchEndpoint = {
        Type    = "Choice"
        Choices = [{ Variable = "$.scratch.DbInstances[0].Endpoint.Address", IsPresent = true, Next = "IsScratchEndpointExpected" }]
        Default = "UnexpectedEndpoint"
      }
      IsScratchEndpointExpected = {
        Type    = "Choice"
        Choices = [{ Variable = "$.scratch.DbInstances[0].Endpoint.Address", StringEquals = local.scratch_address, Next = "RunRestoreCheck" }]
        Default = "UnexpectedEndpoint"
      }
      UnexpectedEndpoint = {
        Type       = "Pass"
        Result     = { Error = "UnexpectedEndpoint", Cause = "${local.scratch_identifier}'s endpoint is not ${local.scratch_address}, the host the secret ${aws_secretsmanager_secret.database.name} must name (see the execution's DescribeScratchInstance output)" }
        ResultPath = "$.error"
        Next       = "DeleteScratchInstance"
      }
      # The task definition's own command is restore-check --record; the
      # override says it again so that the execution history shows what ran.
      RunRestoreCheck = {
        Type           = "Task"
        Resource       = "arn:${local.partition}:states:::ecs:runTask.sync"
        TimeoutSeconds = var.check_timeout_minutes * 60
        Parameters = {
          Cluster        = local.cluster_arn
          TaskDefinition = local.family
          LaunchType     = "FARGATE"
          PropagateTags  = "TASK_DEFINITION"
          NetworkConfiguration = {
            AwsvpcConfiguration = {
              Subnets        = var.subnet_ids
              SecurityGroups = [var.task_security_group_id]
              AssignPublicIp = "DISABLED"
            }
          }
          Overrides = {
            ContainerOverrides = [{ Name = "p360", Command = ["restore-check", "--record"] }]
          }
        }
        ResultPath = "$.check"
        # A non-zero exit (the restore is not whole), a task that did not
        # start and the timeout all fail the state: delete, then fail.
        Catch = [{ ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "DeleteScratchInstance" }]
        Next  = "DeleteScratchInstance"
      }
      DeleteScratchInstance = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::aws-sdk:rds:deleteDBInstance"
        Parameters = {
          DbInstanceIdentifier   = local.scratch_identifier
          SkipFinalSnapshot      = true
          DeleteAutomatedBackups = true
        }
        ResultPath = null
        Retry = [
          { ErrorEquals = ["Rds.DbInstanceNotFoundException"], MaxAttempts = 0 },
          # Still being created or modified: deletable once it settles.
          { ErrorEquals = ["Rds.InvalidDbInstanceStateException"], IntervalSeconds = 120, MaxAttempts = 30, BackoffRate = 1 },
          { ErrorEquals = ["States.ALL"], IntervalSeconds = 30, MaxAttempts = 3, BackoffRate = 2 },
        ]
        Catch = [
          # Nothing was restored (the restore call itself failed).
          { ErrorEquals = ["Rds.DbInstanceNotFoundException"], ResultPath = null, Next = "Outcome" },
          { ErrorEquals = ["States.ALL"], ResultPath = "$.cleanup_error", Next = "CleanupFailed" },
        ]
        Next = "Outcome"
      }
      Outcome = {
        Type    = "Choice"
        Choices = [{ Variable = "$.error", IsPresent = true, Next = "RestoreTestFailed" }]
        Default = "RestoreTestPassed"
      }
      RestoreTestPassed = {
        Type = "Succeed"
      }
      RestoreTestFailed = {
        Type      = "Fail"
        ErrorPath = "$.error.Error"
        CausePath = "$.error.Cause"
      }
      ScratchInstanceExists = {
        Type  = "Fail"
        Error = "ScratchInstanceExists"
        Cause = "${local.scratch_identifier} exists already: another execution is running, or a stopped one left it. This execution did not touch it; once no execution runs, delete it (docs/runbooks/dr-failover.md, Monthly restore test) and start again."
      }
      CleanupFailed = {
        Type  = "Fail"
        Error = "CleanupFailed"
        Cause = "${local.scratch_identifier} could not be deleted (see cleanup_error in the execution's history): delete it by hand, it costs until then."
      }
    }
  }
}

resource "aws_sfn_state_machine" "this" {
  name       = "${var.name}-restore-test"
  role_arn   = aws_iam_role.state_machine.arn
  type       = "STANDARD"
  definition = jsonencode(local.definition)

  # Execution data holds no credential (see the header): it is logged whole.
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  # The role's policy must be in place before Step Functions checks that it
  # may deliver logs.
  depends_on = [aws_iam_role_policy.state_machine]
}

# ---------------------------------------------------------------------------
# The schedule

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name                 = "${var.name}-restore-test-scheduler"
  description          = "EventBridge Scheduler: start the monthly restore test"
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartTheRestoreTest"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }
  # The schedule is encrypted with the platform key; Scheduler opens it with this role.
  statement {
    sid       = "DecryptTheSchedule"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-restore-test"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "this" {
  name                         = "${var.name}-restore-test"
  description                  = "Monthly restore test of ${var.source_db_instance_identifier} (docs/runbooks/dr-failover.md)"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ startedBy = "schedule" })

    # Only StartExecution itself is retried, for an hour; a failed restore
    # test is not (it fails the execution and raises the alarm).
    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 10
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}

# ---------------------------------------------------------------------------
# A failed execution: no restore, a check that failed, or a scratch instance
# left behind. P360RestoreTestFailed says the same about the check once the
# worker has read its result; this alarm also covers the runs that never got
# as far as recording one (P360RestoreTestOverdue would only notice in 35 days).

resource "aws_cloudwatch_metric_alarm" "failed" {
  alarm_name          = "${var.name}-warning-restore-test-failed"
  alarm_description   = "An execution of ${aws_sfn_state_machine.this.name} failed: its error says whether the restore, the check (restore-checks/ and /p360/${var.environment}/restore-check say why) or the deletion of ${local.scratch_identifier} failed. Runbook: docs/runbooks/dr-failover.md#monthly-restore-test"
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
}
