# GitLab CI signs in to AWS with its OIDC ID token (no stored keys). Which role
# a job may assume depends on the ref its pipeline runs for (the token's sub
# claim, project_path:<project>:ref_type:<branch|tag>:ref:<name>):
#
#   p360-ci-build               main branch and release tags: push images to ECR,
#                               promote a main build to a release (re-tag by digest)
#   p360-ci-deploy-dev          main branch: terraform plan/apply and blue-green
#   p360-ci-deploy-staging      main branch                  deployments of that
#   p360-ci-deploy-production   release tags (v*)            one environment
#   p360-ci-deploy-dr           release tags (v*)
#
# IAM sees the ref's name, not whether GitLab protects it: the v* tags must be
# protected tags in GitLab (Settings > Repository > Protected tags, v*, created
# by Maintainers) and main a protected branch, or anyone who can push could
# assume these roles. The pipeline's rules also require CI_COMMIT_REF_PROTECTED.
#
# Every CI role has the permissions boundary p360-ci-boundary, and a deploy
# role can create or change a role only with that same boundary: nothing CI
# creates can hold more than the boundary allows, edit the boundary, drop it,
# or touch the CI roles and the OIDC provider (only an administrator applying
# this root can).

resource "aws_iam_openid_connect_provider" "gitlab" {
  url             = var.gitlab_url
  client_id_list  = [var.gitlab_url]
  thumbprint_list = var.gitlab_thumbprints
}

locals {
  gitlab_host  = trimprefix(var.gitlab_url, "https://")
  account_id   = data.aws_caller_identity.current.account_id
  project_sub  = "project_path:${var.gitlab_project_path}"
  main_sub     = "${local.project_sub}:ref_type:branch:ref:${var.protected_branch}"
  release_sub  = "${local.project_sub}:ref_type:tag:ref:${var.release_tag_pattern}"
  boundary_arn = "arn:aws:iam::${local.account_id}:policy/p360-ci-boundary"

  # The environments CI deploys, the refs whose pipelines deploy each, and the
  # environments a role of lower trust must never touch (resources tagged with
  # their Environment; every resource carries the tag through default_tags).
  deploy_environments = {
    dev        = { subs = [local.main_sub], off_limits = ["production", "dr"] }
    staging    = { subs = [local.main_sub], off_limits = ["production", "dr"] }
    production = { subs = [local.release_sub], off_limits = [] }
    dr         = { subs = [local.release_sub], off_limits = [] }
  }

  # Terraform state objects (environments/*/versions.tf): each deploy role
  # reaches only its own environment's state.
  state_objects = {
    dev        = "arn:aws:s3:::${var.state_bucket}/dev/*"
    staging    = "arn:aws:s3:::${var.state_bucket}/staging/*"
    production = "arn:aws:s3:::${var.state_bucket}/production/*"
    shared     = "arn:aws:s3:::${var.state_bucket}/shared/*"
    dr         = "arn:aws:s3:::${var.dr_state_bucket}/dr/*"
  }
}

# ---------------------------------------------------------------------------
# The permissions boundary of every CI role and of every role they create.

data "aws_iam_policy_document" "ci_boundary" {
  # checkov:skip=CKV_AWS_1:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_49:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_107:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_108:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_109:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_110:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_111:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  # checkov:skip=CKV_AWS_356:A permissions boundary grants nothing (effective = the role's own policies AND the boundary); this Allow is the ceiling, its Deny statements are the point.
  statement {
    sid       = "CeilingForEverythingElse"
    actions   = ["*"]
    resources = ["*"]
  }

  statement {
    sid    = "DenyChangingTheBoundary"
    effect = "Deny"
    actions = [
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:SetDefaultPolicyVersion",
      "iam:TagPolicy",
      "iam:UntagPolicy",
    ]
    resources = [local.boundary_arn]
  }

  statement {
    sid    = "DenyRemovingBoundaries"
    effect = "Deny"
    actions = [
      "iam:DeleteRolePermissionsBoundary",
      "iam:DeleteUserPermissionsBoundary",
    ]
    resources = ["*"]
  }

  # Roles and users come into being, or are changed, only under this boundary.
  statement {
    sid    = "DenyPrincipalsWithoutTheBoundary"
    effect = "Deny"
    actions = [
      "iam:CreateRole",
      "iam:PutRolePermissionsBoundary",
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:CreateUser",
      "iam:PutUserPermissionsBoundary",
      "iam:AttachUserPolicy",
      "iam:PutUserPolicy",
    ]
    resources = ["*"]
    condition {
      test     = "StringNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arn]
    }
  }

  # The boundary is a ceiling only: never attached as a role's or user's policy,
  # where its first statement would grant everything.
  statement {
    sid    = "DenyAttachingTheBoundaryAsAPolicy"
    effect = "Deny"
    actions = [
      "iam:AttachGroupPolicy",
      "iam:AttachRolePolicy",
      "iam:AttachUserPolicy",
    ]
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = [local.boundary_arn]
    }
  }

  # The CI identity itself: its roles (their trust and policies) and the OIDC
  # provider belong to an administrator applying environments/shared.
  statement {
    sid    = "DenyChangingTheCIIdentity"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy",
      "iam:DeleteRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:AddClientIDToOpenIDConnectProvider",
      "iam:CreateOpenIDConnectProvider",
      "iam:DeleteOpenIDConnectProvider",
      "iam:RemoveClientIDFromOpenIDConnectProvider",
      "iam:TagOpenIDConnectProvider",
      "iam:UntagOpenIDConnectProvider",
      "iam:UpdateOpenIDConnectProviderThumbprint",
    ]
    resources = [
      "arn:aws:iam::${local.account_id}:role/p360-ci-*",
      "arn:aws:iam::${local.account_id}:oidc-provider/*",
    ]
  }

  # Nothing CI runs needs long-lived credentials or the account's organisation.
  statement {
    sid    = "DenyLongLivedCredentials"
    effect = "Deny"
    actions = [
      "iam:CreateAccessKey",
      "iam:CreateLoginProfile",
      "iam:UpdateLoginProfile",
      "iam:CreateServiceSpecificCredential",
      "iam:UploadSSHPublicKey",
      "organizations:*",
      "account:*",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "ci_boundary" {
  name        = "p360-ci-boundary"
  description = "Permissions boundary of the GitLab CI roles and of every role they create"
  policy      = data.aws_iam_policy_document.ci_boundary.json
}

# ---------------------------------------------------------------------------
# Build: push images, promote them. Main branch and release tags only: a
# merge request or feature branch pipeline gets no AWS credentials at all.

data "aws_iam_policy_document" "ci_build_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.gitlab.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:aud"
      values   = [var.gitlab_url]
    }
    condition {
      test     = "StringLike"
      variable = "${local.gitlab_host}:sub"
      values   = [local.main_sub, local.release_sub]
    }
  }
}

resource "aws_iam_role" "ci_build" {
  name                 = "p360-ci-build"
  description          = "GitLab CI (main branch, release tags): build, push and promote p360 images"
  assume_role_policy   = data.aws_iam_policy_document.ci_build_assume.json
  permissions_boundary = aws_iam_policy.ci_boundary.arn
  max_session_duration = 3600
}

data "aws_iam_policy_document" "ci_build" {
  # checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken supports no resource-level restriction.
  # checkov:skip=CKV_AWS_111:ecr:GetAuthorizationToken supports no resource-level restriction.
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "PushAndPromoteImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeImageScanFindings",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [module.registry.repository_arn]
  }
  statement {
    sid       = "EncryptLayers"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.registry.arn]
  }
}

resource "aws_iam_role_policy" "ci_build" {
  name   = "push-images"
  role   = aws_iam_role.ci_build.id
  policy = data.aws_iam_policy_document.ci_build.json
}

# ---------------------------------------------------------------------------
# Deploy: one role per environment, assumable only from the refs that deploy it.

data "aws_iam_policy_document" "ci_deploy_assume" {
  for_each = local.deploy_environments

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.gitlab.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.gitlab_host}:aud"
      values   = [var.gitlab_url]
    }
    condition {
      test     = "StringLike"
      variable = "${local.gitlab_host}:sub"
      values   = each.value.subs
    }
  }
}

resource "aws_iam_role" "ci_deploy" {
  for_each = local.deploy_environments

  name                 = "p360-ci-deploy-${each.key}"
  description          = "GitLab CI: terraform and blue-green deployments of ${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.ci_deploy_assume[each.key].json
  permissions_boundary = aws_iam_policy.ci_boundary.arn
  max_session_duration = 3600
}

# Terraform manages nearly every service of the estate, so a deploy role holds
# PowerUserAccess (which has no IAM) plus the IAM actions on its own
# environment's roles (p360-<environment>-*), under the boundary.
resource "aws_iam_role_policy_attachment" "ci_deploy_power_user" {
  for_each = local.deploy_environments

  role       = aws_iam_role.ci_deploy[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}

data "aws_iam_policy_document" "ci_deploy" {
  for_each = local.deploy_environments

  # Creating a role, or changing its policies, requires the boundary on it.
  statement {
    sid = "ManageBoundedEnvironmentRoles"
    actions = [
      "iam:AttachRolePolicy",
      "iam:CreateRole",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]
    resources = ["arn:aws:iam::${local.account_id}:role/p360-${each.key}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.ci_boundary.arn]
    }
  }

  statement {
    sid = "ReadAndMaintainEnvironmentRoles"
    actions = [
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies",
      "iam:ListRoleTags",
      "iam:PassRole",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
    ]
    resources = ["arn:aws:iam::${local.account_id}:role/p360-${each.key}-*"]
  }

  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${local.account_id}:role/aws-service-role/*"]
  }

  # Another environment's (or the shared root's) state holds its secrets.
  statement {
    sid       = "DenyOtherEnvironmentsState"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for env, arn in local.state_objects : arn if env != each.key]
  }

  dynamic "statement" {
    for_each = length(each.value.off_limits) > 0 ? [1] : []
    content {
      sid       = "DenyEnvironmentsOfHigherTrust"
      effect    = "Deny"
      actions   = ["*"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/Environment"
        values   = each.value.off_limits
      }
    }
  }

  dynamic "statement" {
    for_each = length(each.value.off_limits) > 0 ? [1] : []
    content {
      sid       = "DenyCreatingForEnvironmentsOfHigherTrust"
      effect    = "Deny"
      actions   = ["*"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Environment"
        values   = each.value.off_limits
      }
    }
  }
}

resource "aws_iam_role_policy" "ci_deploy" {
  for_each = local.deploy_environments

  name   = "manage-environment-roles"
  role   = aws_iam_role.ci_deploy[each.key].id
  policy = data.aws_iam_policy_document.ci_deploy[each.key].json
}
