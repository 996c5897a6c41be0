# RDS PostgreSQL: a Multi-AZ primary, read replicas for reporting, 30 days of
# automated backups with point-in-time recovery, KMS encryption, TLS enforced by
# the parameter group, enhanced monitoring and Performance Insights, and the
# automated backups replicated to the DR region.

locals {
  major_version = split(".", var.engine_version)[0]
}

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Isolated data subnets of ${var.name}"
  subnet_ids  = var.subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name        = "${var.name}-pg${local.major_version}"
  family      = "postgres${local.major_version}"
  description = "p360 settings: TLS only, slow-query and lock logging, pg_stat_statements"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "ssl_min_protocol_version"
    value = "TLSv1.2"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.slow_query_ms)
  }
  parameter {
    name  = "log_lock_waits"
    value = "1"
  }
  parameter {
    name  = "log_connections"
    value = "1"
  }
  parameter {
    name  = "log_disconnections"
    value = "1"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }
  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name                 = "${var.name}-rds-monitoring"
  assume_role_policy   = data.aws_iam_policy_document.monitoring_assume.json
  permissions_boundary = var.permissions_boundary_arn
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "primary" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name                       = var.create_from_backup ? null : var.database_name
  username                      = var.create_from_backup ? null : var.master_username
  manage_master_user_password   = var.create_from_backup ? null : true
  master_user_secret_kms_key_id = var.create_from_backup ? null : var.kms_key_arn
  port                          = 5432

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  # A point-in-time restore keeps the key of the backups it restores (the
  # API takes no other): in a DR stack, the key the replicated backups are
  # under in this region (alias/<primary>-rds-backups). Naming this stack's
  # key there would plan to replace the restored database at the next apply
  # (kms_key_id forces a new instance), so a restored instance leaves it unset.
  kms_key_id = var.create_from_backup ? null : var.kms_key_arn

  multi_az               = var.multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  iam_database_authentication_enabled = true

  backup_retention_period   = var.backup_retention_days
  backup_window             = "03:00-04:00"
  maintenance_window        = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = false

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = var.monitoring_interval_seconds
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7

  # Disaster recovery: build this instance from the automated backups that were
  # replicated into this region, at the latest restorable time (RPO: minutes),
  # or at restore_time (a failover away from corrupted data). Both are fixed
  # once the instance exists: a changed block would plan a new instance.
  dynamic "restore_to_point_in_time" {
    for_each = var.create_from_backup ? [var.restore_source_automated_backups_arn] : []
    content {
      source_db_instance_automated_backups_arn = restore_to_point_in_time.value
      restore_time                             = var.restore_time
      use_latest_restorable_time               = var.restore_time == null ? true : null
    }
  }

  # A point-in-time restore of production's size takes 30-60 minutes, past
  # the provider's 40-minute default: an apply that gave up would leave the
  # restored instance tainted, and the next apply would plan to replace it.
  timeouts {
    create = "4h"
  }

  lifecycle {
    precondition {
      condition     = !var.create_from_backup || var.restore_source_automated_backups_arn != null
      error_message = "create_from_backup needs restore_source_automated_backups_arn."
    }
  }
}

resource "aws_db_instance" "replica" {
  # checkov:skip=CKV_AWS_133:Backups are taken from the primary; a replica promoted by the DR runbook gets its retention set when promoted.
  # checkov:skip=CKV_AWS_157:Replicas (production's two) are for reporting reads and are spread over zones; the primary is the Multi-AZ instance.
  count = var.read_replica_count

  identifier          = "${var.name}-replica-${count.index + 1}"
  replicate_source_db = aws_db_instance.primary.identifier
  availability_zone   = length(var.replica_availability_zones) > 0 ? var.replica_availability_zones[count.index % length(var.replica_availability_zones)] : null
  instance_class      = coalesce(var.replica_instance_class, var.instance_class)

  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn
  max_allocated_storage = var.max_allocated_storage_gb

  multi_az               = false
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  iam_database_authentication_enabled = true

  backup_retention_period = 0
  copy_tags_to_snapshot   = true
  deletion_protection     = var.deletion_protection
  skip_final_snapshot     = true

  auto_minor_version_upgrade = true
  apply_immediately          = false

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = var.monitoring_interval_seconds
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
}

# ---------------------------------------------------------------------------
# Cross-region backup replication: snapshots and transaction logs of the
# primary are copied to the DR region, where a point-in-time restore can build
# a new primary (environments/dr with create_from_backup = true).
#
# No AWS Backup plan on top: RDS's own automated backups already give 30
# days of point-in-time recovery here and in the DR region, kept after the
# instance is deleted (delete_automated_backups = false), and the restore_test
# module proves them monthly. What AWS Backup would add is copies nobody in
# this account can delete (a vault lock, or a vault in another account) and
# retention beyond 35 days; both are for a compromised account or a
# compliance rule, neither of which the plan names, and both cost a second
# copy of the database. Decide it there, not as a default.

resource "aws_kms_key" "dr_backups" {
  provider = aws.dr
  count    = var.replicate_backups_to_dr ? 1 : 0

  description             = "${var.name}: RDS automated backups replicated to the DR region"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersTheKeyThroughIAM"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_kms_alias" "dr_backups" {
  provider = aws.dr
  count    = var.replicate_backups_to_dr ? 1 : 0

  name          = "alias/${var.name}-rds-backups"
  target_key_id = aws_kms_key.dr_backups[0].key_id
}

data "aws_caller_identity" "current" {}

resource "aws_db_instance_automated_backups_replication" "dr" {
  provider = aws.dr
  count    = var.replicate_backups_to_dr ? 1 : 0

  source_db_instance_arn = aws_db_instance.primary.arn
  kms_key_id             = aws_kms_key.dr_backups[0].arn
  retention_period       = var.backup_retention_days
}
