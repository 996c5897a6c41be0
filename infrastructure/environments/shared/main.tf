# Account-wide pieces every environment shares:
#   - the ECR repository the pipeline pushes to (replicated to the DR region)
#   - the cost allocation tags and the plan's overall budgets
#   - the GitLab CI identity (OIDC): a build role (push, promote images), a deploy
#     role per environment, and the permissions boundary of them all (ci.tf)
#   - API Gateway's account-wide logging role in us-east-1

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "registry" {
  description             = "p360 container images"
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

resource "aws_kms_alias" "registry" {
  name          = "alias/p360-registry"
  target_key_id = aws_kms_key.registry.key_id
}

module "registry" {
  source = "../../modules/registry"

  name            = "p360"
  kms_key_arn     = aws_kms_key.registry.arn
  replica_regions = [var.dr_region]
}

# ---------------------------------------------------------------------------
# API Gateway writes execution logs through one role per account and region;
# every environment's stage in this region needs it before it can log.

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  name               = "p360-apigateway-logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  role       = aws_iam_role.apigateway_logs.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_logs.arn
}

# ---------------------------------------------------------------------------
# Cost allocation: activate the tags every resource carries (default_tags).

resource "aws_ce_cost_allocation_tag" "this" {
  for_each = toset(["Project", "Environment", "CostCenter"])

  tag_key = each.value
  status  = "Active"
}

# The plan's estimates that are not one environment's: monitoring & security,
# data transfer & storage, and the whole ($6,600/month).
module "budget_total" {
  source = "../../modules/budget"

  name              = "p360-total-monthly"
  monthly_limit_usd = 6600
  cost_filters      = { TagKeyValue = ["user:Project$p360"] }
  alert_emails      = var.budget_alert_emails
}

module "budget_monitoring_security" {
  source = "../../modules/budget"

  name              = "p360-monitoring-security-monthly"
  monthly_limit_usd = 800
  cost_filters = {
    Service = [
      "AmazonCloudWatch",
      "AWS X-Ray",
      "Amazon Managed Service for Prometheus",
      "Amazon GuardDuty",
      "AWS CloudTrail",
      "AWS Config",
      "AWS WAF",
      "AWS Secrets Manager",
      "AWS Key Management Service",
    ]
  }
  alert_emails = var.budget_alert_emails
}

module "budget_transfer_storage" {
  source = "../../modules/budget"

  name              = "p360-data-transfer-storage-monthly"
  monthly_limit_usd = 600
  cost_filters = {
    Service = ["Amazon Simple Storage Service", "AWS Data Transfer", "Amazon CloudFront"]
  }
  alert_emails = var.budget_alert_emails
}
