# ---------------------------------------------------------------------------
# KMS: the master key of tenants' secrets (envelope encryption, crates/tenancy
# vault). Each tenant's data key is made by `kms:GenerateDataKey` (AES_256) and
# opened by `kms:Decrypt`, both with the encryption context tenant=<tenant id>;
# only the wrapped data key is stored (in PostgreSQL).
#
# A key of its own rather than the platform key (aws_kms_key.main): the
# platform key is used by a dozen services (logs, RDS, S3, SQS, SNS, Secrets
# Manager, CloudTrail, the execution role), and a separate key keeps the tasks'
# grant on it to the two operations the vault makes, its CloudTrail events to
# tenant secrets alone (one event per tenant data key, the tenant in the
# context), and lets it be disabled or audited without touching data at rest.
#
# Multi-Region: a data key wrapped here is stored in the database, which a DR
# failover restores in the DR region from replicated backups. Only a replica of
# the same multi-Region key (same key material, same mrk- key id) can open it
# there, so the key is multi-Region in every environment (multi_region cannot
# be changed later) and is replicated where secrets are (secret_replica_region,
# production). The DR stack does not make a key: it names the replica by its
# alias (tenant_secrets_key_alias).
#
# What the application is given (secrets.kms_key_id, P360_SECRETS__KMS_KEY_ID)
# is the alias name, not an ARN: the vault records "kms:<kms_key_id>" with each
# wrapped data key and opens a data key only when the recorded name equals the
# configured one. An ARN names a region, so production's ARN would never match
# in the DR region; the alias name is the same in both regions and resolves to
# the primary key in the primary region and to its replica in the DR region
# (the region is secrets.kms_region, set to the task's region by the stack).

locals {
  own_tenant_secrets_key = var.tenant_secrets_key_alias == null
  tenant_secrets_alias   = coalesce(var.tenant_secrets_key_alias, "alias/${var.name}-tenant-secrets")
  replicate_tenant_key   = local.own_tenant_secrets_key && var.secret_replica_region != null
  # Where this stack names another stack's key (DR: production's replica), its
  # ARN is not known here; IAM then matches this region's keys by that alias.
  tenant_secrets_key_resource = (local.own_tenant_secrets_key
    ? aws_kms_key.tenant_secrets[0].arn
  : "arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*")
}

data "aws_region" "dr" {
  provider = aws.dr
}

data "aws_iam_policy_document" "tenant_secrets_kms" {
  # checkov:skip=CKV_AWS_109:Key policies must name the key itself as "*"; the account root statement is the standard delegation to IAM.
  # checkov:skip=CKV_AWS_111:Key policies must name the key itself as "*"; writes are limited to the account.
  # checkov:skip=CKV_AWS_356:In a key policy "*" means this key only.
  statement {
    sid       = "AccountAdministersTheKeyThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Whoever IAM lets use the key, no data key is made or opened without the
  # tenant it belongs to: KMS binds the ciphertext to that context and
  # CloudTrail records it with every use.
  statement {
    sid    = "DenyUseWithoutATenant"
    effect = "Deny"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Null"
      variable = "kms:EncryptionContext:tenant"
      values   = ["true"]
    }
  }
}

resource "aws_kms_key" "tenant_secrets" {
  count = local.own_tenant_secrets_key ? 1 : 0

  description             = "${var.name}: wraps each tenant's data key (tenant secrets, encryption context tenant)"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  multi_region            = true
  policy                  = data.aws_iam_policy_document.tenant_secrets_kms.json
}

resource "aws_kms_alias" "tenant_secrets" {
  count = local.own_tenant_secrets_key ? 1 : 0

  name          = local.tenant_secrets_alias
  target_key_id = aws_kms_key.tenant_secrets[0].key_id
}

# The replica in the DR region: the same key material (rotation included), so
# the DR stack opens the data keys production wrapped. Aliases are per region:
# the replica gets the same name, which the DR stack (and its tasks) use.
resource "aws_kms_replica_key" "tenant_secrets" {
  provider = aws.dr
  count    = local.replicate_tenant_key ? 1 : 0

  description             = "${var.name}: replica of the tenant secrets key, for a DR failover"
  primary_key_arn         = aws_kms_key.tenant_secrets[0].arn
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.tenant_secrets_kms.json

  lifecycle {
    precondition {
      condition     = data.aws_region.dr.name == var.secret_replica_region
      error_message = "The aws.dr provider must be in secret_replica_region: the tenant secrets key is replicated with the secrets."
    }
  }
}

resource "aws_kms_alias" "tenant_secrets_replica" {
  provider = aws.dr
  count    = local.replicate_tenant_key ? 1 : 0

  name          = local.tenant_secrets_alias
  target_key_id = aws_kms_replica_key.tenant_secrets[0].key_id
}
