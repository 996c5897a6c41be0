data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

# ---------------------------------------------------------------------------
# KMS: one customer-managed key per environment encrypts data at rest everywhere
# (RDS, ElastiCache, S3, SQS, SNS, Secrets Manager, CloudWatch Logs, CloudTrail).

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:Key policies must name the key itself as "*"; the account root statement is the standard delegation to IAM.
  # checkov:skip=CKV_AWS_111:Key policies must name the key itself as "*"; writes are limited to the account and named services.
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

  statement {
    sid = "CloudWatchLogsEncryptsLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "ServicesPublishToEncryptedTopicsAndQueues"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "cloudwatch.amazonaws.com",
        "events.amazonaws.com",
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "budgets.amazonaws.com",
        "aps.amazonaws.com",
        "events.rds.amazonaws.com",
      ]
    }
    # No source condition: not every one of these services sends one to KMS.
    # They can only use the key for resources of this account that name it.
  }

  statement {
    sid       = "CloudTrailEncryptsTrail"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }
  }

  # DescribeKey carries no encryption context, so under the condition above
  # CloudTrail could never call it and trail creation fails with
  # InsufficientEncryptionPolicyException. It gets its own statement, bounded
  # by the source account instead.
  statement {
    sid       = "CloudTrailDescribesKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "main" {
  description             = "${var.name}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  multi_region            = false
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.main.key_id
}

# ---------------------------------------------------------------------------
# Secrets Manager: the containers for every credential the platform uses.
# Values are put by the environment setup runbook (partner credentials) or by
# the module that owns the resource (the Redis URL is written by the cache module).

locals {
  secrets = {
    database = "PostgreSQL URL of the p360 login role, the schema's owner (P360_DATABASE__URL)"
    # The application's queries log in as a role that owns nothing.
    database-app = "PostgreSQL URL of the p360_app login role (P360_DATABASE__APP_URL)"
    # Only referenced where the environment has read replicas (stack); empty elsewhere.
    database-read = "PostgreSQL URL of the p360_app login role at a read replica, for reports (P360_DATABASE__READ_URL)"
    redis         = "rediss:// URL with the ElastiCache auth token (P360_REDIS__URL)"
    ttd           = "The Trade Desk API partner credentials"
    salesforce    = "Salesforce connected-app credentials"
    bombora       = "Bombora Company Surge API and SFTP credentials"
    # Kept out of the database on purpose: it signs the audit checkpoints.
    audit-checkpoint = "HMAC key signing audit chain checkpoints, base64 of 32 bytes (P360_AUDIT__CHECKPOINT_KEY)"
    # Written by the compute module; replicated so a DR stack can take it over.
    origin-verify = "X-Origin-Verify header value CloudFront sends to the ALB"
  }
}

resource "aws_secretsmanager_secret" "this" {
  # checkov:skip=CKV2_AWS_57:Partner credentials are rotated at the partner and the database URL by the migration runbook; no AWS rotation Lambda can do either.
  for_each = local.secrets

  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = var.secret_recovery_window_days

  dynamic "replica" {
    for_each = var.secret_replica_region == null ? [] : [var.secret_replica_region]
    content {
      region = replica.value
    }
  }
}

# ---------------------------------------------------------------------------
# WAF: AWS managed rule groups covering the OWASP Top 10 plus a rate-based rule.
# The same rules protect the ALB and API Gateway (REGIONAL) and CloudFront
# (CLOUDFRONT, which AWS only accepts in us-east-1: provider aws.global).

locals {
  waf_redacted_headers = ["authorization", "cookie", "x-api-key", "x-origin-verify"]
  managed_rule_groups = [
    # name, priority: OWASP coverage
    { name = "AWSManagedRulesAmazonIpReputationList", priority = 10 }, # known bad sources
    { name = "AWSManagedRulesCommonRuleSet", priority = 20 },          # XSS, LFI/RFI, size limits (A03, A05)
    { name = "AWSManagedRulesSQLiRuleSet", priority = 40 },            # SQL injection (A03)
    { name = "AWSManagedRulesLinuxRuleSet", priority = 50 },           # LFI on Linux hosts
  ]
}

# The deploy controller's probes of a new slot (readiness every 200 ms, the
# smoke suite, a readiness check with every reading) reach the ALB's per-slot
# test listeners from the environment's own NAT gateways; the security group
# admits nothing else there. They are let through before the managed rules
# (the Common rule set blocks requests without a User-Agent) and the rate limit.
resource "aws_wafv2_ip_set" "deploy_probes" {
  count = length(var.deploy_probe_sources) > 0 && var.slots_domain_name != "" ? 1 : 0

  name               = "${var.name}-deploy-probes"
  description        = "NAT gateways of the environment: the deploy runner's source addresses"
  scope              = "REGIONAL"
  ip_address_version = "IPV4"
  addresses          = var.deploy_probe_sources
}

resource "aws_wafv2_web_acl" "regional" {
  name        = "${var.name}-regional"
  description = "ALB and API Gateway: OWASP managed rules and a per-IP rate limit"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  dynamic "rule" {
    for_each = aws_wafv2_ip_set.deploy_probes
    content {
      name     = "allow-deploy-probes"
      priority = 0

      action {
        allow {}
      }

      statement {
        and_statement {
          statement {
            ip_set_reference_statement {
              arn = rule.value.arn
            }
          }
          statement {
            byte_match_statement {
              search_string         = var.slots_domain_name
              positional_constraint = "STARTS_WITH"
              field_to_match {
                single_header {
                  name = "host"
                }
              }
              text_transformation {
                priority = 0
                type     = "LOWERCASE"
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = "allow-deploy-probes"
        sampled_requests_enabled   = true
      }
    }
  }

  dynamic "rule" {
    for_each = local.managed_rule_groups
    content {
      name     = rule.value.name
      priority = rule.value.priority

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = rule.value.name

          # Bodies over the inspection limit (8 KB at the ALB, 16 KB at
          # CloudFront) are counted and labelled here; "block-large-bodies"
          # blocks them everywhere but the creative upload routes.
          dynamic "rule_action_override" {
            for_each = rule.value.name == "AWSManagedRulesCommonRuleSet" ? ["SizeRestrictions_BODY"] : []
            content {
              name = rule_action_override.value
              action_to_use {
                count {}
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = rule.value.name
        sampled_requests_enabled   = true
      }
    }
  }

  # The Common rule set blocks every body over 8 KB (SizeRestrictions_BODY),
  # so every creative upload got 403. Its match is counted above; here a body
  # it labelled is blocked unless it goes to an upload route, whose size the
  # application itself limits (http.body_limit_bytes, 2 MB; 200 KB per image
  # and 1 MB per HTML5 zip; http.upload_limit_bytes, 64 MB, for files).
  rule {
    name     = "block-large-bodies"
    priority = 21

    action {
      block {}
    }

    statement {
      and_statement {
        statement {
          label_match_statement {
            scope = "LABEL"
            key   = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
          }
        }
        statement {
          not_statement {
            statement {
              regex_match_statement {
                regex_string = var.upload_path_regex
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "block-large-bodies"
      sampled_requests_enabled   = true
    }
  }

  # Log4Shell and other known-bad inputs (A06); a static block so that scanners see it.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  # Behind CloudFront the source address the ALB's ACL sees is an edge
  # server's, which thousands of viewers share: keyed on it, the limit blocked
  # whole regions at once. Requests for the origin name can only come through
  # CloudFront (the ALB's security group admits CloudFront's addresses alone)
  # and CloudFront's ACL limits them per viewer address, so this rule leaves
  # them out; X-Forwarded-For is not used as a key, since a client sets its
  # first entry. It still limits API Gateway's direct traffic per address.
  rule {
    name     = "rate-limit-per-ip"
    priority = 100

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit_per_5_minutes
        aggregate_key_type = "IP"

        dynamic "scope_down_statement" {
          for_each = var.origin_domain_name == "" ? [] : [var.origin_domain_name]
          content {
            not_statement {
              statement {
                byte_match_statement {
                  search_string         = scope_down_statement.value
                  positional_constraint = "EXACTLY"
                  field_to_match {
                    single_header {
                      name = "host"
                    }
                  }
                  text_transformation {
                    priority = 0
                    type     = "LOWERCASE"
                  }
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-regional"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl" "cloudfront" {
  provider = aws.global
  count    = var.create_cloudfront_web_acl ? 1 : 0

  name        = "${var.name}-cloudfront"
  description = "CloudFront: OWASP managed rules and a per-IP rate limit"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  dynamic "rule" {
    for_each = local.managed_rule_groups
    content {
      name     = rule.value.name
      priority = rule.value.priority

      override_action {
        none {}
      }

      statement {
        managed_rule_group_statement {
          vendor_name = "AWS"
          name        = rule.value.name

          # Bodies over the inspection limit (8 KB at the ALB, 16 KB at
          # CloudFront) are counted and labelled here; "block-large-bodies"
          # blocks them everywhere but the creative upload routes.
          dynamic "rule_action_override" {
            for_each = rule.value.name == "AWSManagedRulesCommonRuleSet" ? ["SizeRestrictions_BODY"] : []
            content {
              name = rule_action_override.value
              action_to_use {
                count {}
              }
            }
          }
        }
      }

      visibility_config {
        cloudwatch_metrics_enabled = true
        metric_name                = rule.value.name
        sampled_requests_enabled   = true
      }
    }
  }

  # The Common rule set blocks every body over 8 KB (SizeRestrictions_BODY),
  # so every creative upload got 403. Its match is counted above; here a body
  # it labelled is blocked unless it goes to an upload route, whose size the
  # application itself limits (http.body_limit_bytes, 2 MB; 200 KB per image
  # and 1 MB per HTML5 zip; http.upload_limit_bytes, 64 MB, for files).
  rule {
    name     = "block-large-bodies"
    priority = 21

    action {
      block {}
    }

    statement {
      and_statement {
        statement {
          label_match_statement {
            scope = "LABEL"
            key   = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
          }
        }
        statement {
          not_statement {
            statement {
              regex_match_statement {
                regex_string = var.upload_path_regex
                field_to_match {
                  uri_path {}
                }
                text_transformation {
                  priority = 0
                  type     = "NONE"
                }
              }
            }
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "block-large-bodies"
      sampled_requests_enabled   = true
    }
  }

  # Log4Shell and other known-bad inputs (A06); a static block so that scanners see it.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 100

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit_per_5_minutes
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-cloudfront"
    sampled_requests_enabled   = true
  }
}

# WAF log groups must be named aws-waf-logs-*. The CloudFront ACL logs in us-east-1.
resource "aws_cloudwatch_log_group" "waf_regional" {
  name              = "aws-waf-logs-${var.name}-regional"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "regional" {
  resource_arn            = aws_wafv2_web_acl.regional.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf_regional.arn]

  # Credentials never reach the logs (kept log_retention_days): bearer tokens
  # and API keys (Authorization), session cookies, and the secret header
  # CloudFront adds for the ALB.
  dynamic "redacted_fields" {
    for_each = local.waf_redacted_headers
    content {
      single_header {
        name = redacted_fields.value
      }
    }
  }
}

resource "aws_cloudwatch_log_group" "waf_cloudfront" {
  # checkov:skip=CKV_AWS_158:Encrypted with the platform key whenever the stack's region is us-east-1, as in every environment with a distribution; a key serves one region only, so a primary elsewhere gets CloudWatch's default encryption here.
  provider = aws.global
  count    = var.create_cloudfront_web_acl ? 1 : 0

  name              = "aws-waf-logs-${var.name}-cloudfront"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.region == "us-east-1" ? aws_kms_key.main.arn : null
}

resource "aws_wafv2_web_acl_logging_configuration" "cloudfront" {
  provider = aws.global
  count    = var.create_cloudfront_web_acl ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.cloudfront[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf_cloudfront[0].arn]

  # Credentials never reach the logs (kept log_retention_days): bearer tokens
  # and API keys (Authorization), session cookies, and the secret header
  # CloudFront adds for the ALB.
  dynamic "redacted_fields" {
    for_each = local.waf_redacted_headers
    content {
      single_header {
        name = redacted_fields.value
      }
    }
  }
}
