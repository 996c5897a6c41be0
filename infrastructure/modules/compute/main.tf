# ECS on Fargate: the API (`p360 serve`) as two services, blue and green (the
# load balancer's two slots), each behind its own target group and with its own
# task definition family; the workers (`p360 worker`) as one service; and
# `p360 migrate` as a task definition for one-off runs by hand (status, a
# revert: docs/runbooks/database-migration.md; deployments migrate by
# themselves).
#
# Ownership at run time: Terraform registers a revision of every task
# definition on the image it is given (image_tag) and creates the services,
# both API slots stopped. `p360 deploy start --version V` (scripts/deploy) then
# owns them: through scripts/ecs-slot it moves the idle slot's service to the
# new revision and scales it (desired count, autoscaling bounds), stops the old
# slot and moves the worker; it moves the listener-rule weights itself.
# Terraform therefore ignores task_definition, desired_count, the autoscaling
# bounds of the API slots and the rule's weights.

data "aws_region" "current" {}

locals {
  region  = data.aws_region.current.name
  colours = toset(["blue", "green"])
  image   = "${var.image_repository_url}:${var.image_tag}"

  common_environment = [
    { name = "P360_MODE", value = "production" },
    # /health/live reports it; p360 deploy checks that a slot runs the version it deploys.
    { name = "P360_RELEASE", value = var.image_tag },
    { name = "P360_DATA_DIR", value = "/tmp/p360" },
    { name = "P360_LOG__FORMAT", value = "json" },
    { name = "P360_LOG__LEVEL", value = var.log_level },
    { name = "P360_DATABASE__MAX_CONNECTIONS", value = tostring(var.database_max_connections) },
    { name = "P360_STORAGE__S3_BUCKET", value = var.files_bucket },
    { name = "P360_STORAGE__S3_REGION", value = local.region },
    { name = "OTEL_EXPORTER_OTLP_ENDPOINT", value = "http://127.0.0.1:4318" },
  ]
  issuer_environment = var.auth_issuers_toml == "" ? [] : [{ name = "P360_AUTH__ISSUERS", value = var.auth_issuers_toml }]
  common_environment_all = concat(
    local.common_environment,
    local.issuer_environment,
    [for k, v in var.environment_variables : { name = k, value = v }],
  )

  secrets = [for env_name, arn in var.secret_environment : { name = env_name, valueFrom = arn }]
  # The API and the workers log in as the application's own role
  # (P360_DATABASE__APP_URL); the schema owner's URL goes only to the
  # migrate task.
  app_secrets = [for s in local.secrets : s if s.name != "P360_DATABASE__URL"]

  # The app's root filesystem is read-only; /tmp is a task-local volume.
  tmp_mount = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]

  # Stopping an API task. ECS first deregisters it from its target group and
  # waits deregistration_delay_seconds (the ALB sends it nothing new, requests
  # in flight finish), then sends SIGTERM; the app turns readiness off, keeps
  # serving http.shutdown_delay_ms, stops accepting, gives requests in flight
  # http.drain_timeout_ms and exits. The shutdown delay covers the ALB's
  # health check interval x unhealthy threshold, so a task signalled without a
  # deregistration first is out of the target group before it stops accepting;
  # the drain covers the longest request (http.request_timeout_ms, 30 s by
  # default); stopTimeout (SIGKILL) comes after both.
  health_check = {
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
  shutdown_delay_seconds = local.health_check.interval * local.health_check.unhealthy_threshold
  drain_timeout_seconds  = 30
  api_stop_timeout       = local.shutdown_delay_seconds + local.drain_timeout_seconds + 5

  log_config = {
    for role in ["api", "worker", "migrate"] : role => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_names[role]
        awslogs-region        = local.region
        awslogs-stream-prefix = role
      }
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enhanced"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }
}

# ---------------------------------------------------------------------------
# Task definitions

# One family per slot: the same container, but each slot's collector labels
# its series with the slot (monitoring module, adot_container_definitions).
resource "aws_ecs_task_definition" "api" {
  for_each = local.colours

  family                   = "${var.name}-api-${each.key}"
  skip_destroy             = true
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.api_cpu
  memory                   = var.api_memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.api_task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode(concat([
    {
      name      = "p360"
      image     = local.image
      essential = true
      # --no-migrate: p360 deploy runs the migrations, expand ones before this
      # version starts and contract ones once the previous version is gone.
      command                = ["serve", "--no-worker", "--no-migrate"]
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      portMappings           = [{ containerPort = var.app_port, protocol = "tcp" }]
      environment = concat(local.common_environment_all, [
        { name = "P360_HTTP__LISTEN", value = "0.0.0.0:${var.app_port}" },
        { name = "P360_HTTP__SHUTDOWN_DELAY_MS", value = tostring(local.shutdown_delay_seconds * 1000) },
        { name = "P360_HTTP__DRAIN_TIMEOUT_MS", value = tostring(local.drain_timeout_seconds * 1000) },
        { name = "OTEL_SERVICE_NAME", value = "p360-api" },
      ])
      secrets     = local.app_secrets
      mountPoints = local.tmp_mount
      healthCheck = {
        command     = ["CMD", "curl", "-fsS", "http://127.0.0.1:${var.app_port}/health/live"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }
      stopTimeout      = local.api_stop_timeout
      logConfiguration = local.log_config["api"]
      dependsOn        = [{ containerName = "aws-otel-collector", condition = "START" }]
    },
  ], [var.adot_container_definitions["api-${each.key}"]]))

  lifecycle {
    precondition {
      condition     = local.api_stop_timeout <= 120
      error_message = "Fargate allows a stopTimeout of at most 120 s: shorten the shutdown delay or the drain."
    }
  }
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  skip_destroy             = true
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.worker_task_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode(concat([
    {
      name                   = "p360"
      image                  = local.image
      essential              = true
      command                = ["worker"]
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      environment = concat(local.common_environment_all, [
        { name = "OTEL_SERVICE_NAME", value = "p360-worker" },
      ])
      secrets          = local.app_secrets
      mountPoints      = local.tmp_mount
      stopTimeout      = 120
      logConfiguration = local.log_config["worker"]
      dependsOn        = [{ containerName = "aws-otel-collector", condition = "START" }]
    },
  ], [var.adot_container_definitions["worker"]]))
}

# One-off runs by hand (`aws ecs run-task`, command overrides such as
# ["migrate","status"] or ["migrate","down"]). Deployments do not use it:
# `p360 deploy` applies migrations itself, split around the traffic switch.
# The only task with the schema owner's URL; its role reads the files bucket
# and the audit checkpoints, so that ["restore-check"] and
# ["audit","verify","--restored"] run here too (after a DR failover).
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  skip_destroy             = true
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.migrate_task_role_arn

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
      image                  = local.image
      essential              = true
      command                = ["migrate", "up"]
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      environment            = local.common_environment_all
      secrets                = local.secrets
      mountPoints            = local.tmp_mount
      logConfiguration       = local.log_config["migrate"]
    },
  ])
}

# ---------------------------------------------------------------------------
# Services

# Both slots start stopped: the first `scripts/deploy` (p360 deploy start
# --first) starts one on its version, after the migrations.
resource "aws_ecs_service" "api" {
  for_each = local.colours

  name            = "api-${each.key}"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.api[each.key].arn
  desired_count   = 0
  launch_type     = "FARGATE"

  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api[each.key].arn
    container_name   = "p360"
    container_port   = var.app_port
  }

  tags = { Colour = each.key, Role = "api" }

  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }

  # ECS only registers targets of a target group that a listener rule uses.
  depends_on = [aws_lb_listener_rule.api]
}

# The worker starts stopped too: at apply there is no schema and no secret
# values yet, so tasks started then fail, the circuit breaker stops the
# service, and the first deploy found its image tag already current and left
# it stopped. scripts/ecs-slot starts it (worker_capacity) on the version the
# serving slot runs, after the migrations.
resource "aws_ecs_service" "worker" {
  name            = "worker"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.worker.arn
  desired_count   = 0

  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 100 - var.worker_spot_percent
  }

  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = var.worker_spot_percent
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  tags = { Role = "worker" }

  lifecycle {
    ignore_changes = [task_definition, desired_count]
  }

  # A capacity provider strategy names providers the cluster must already have.
  depends_on = [aws_ecs_cluster_capacity_providers.this]
}
