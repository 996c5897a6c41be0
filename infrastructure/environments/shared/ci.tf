# GitLab CI signs in to AWS with its OIDC ID token (no stored keys):
#   p360-ci-build  - any pipeline of the project: push images to ECR
#   p360-ci-deploy - only pipelines of protected refs: terraform plan/apply and
#                    blue-green deployments (ECS, ELBv2, the state backend)

resource "aws_iam_openid_connect_provider" "gitlab" {
  url             = var.gitlab_url
  client_id_list  = [var.gitlab_url]
  thumbprint_list = var.gitlab_thumbprints
}

locals {
  gitlab_host = trimprefix(var.gitlab_url, "https://")
}

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
      values   = ["project_path:${var.gitlab_project_path}:ref_type:*:ref:*"]
    }
  }
}

resource "aws_iam_role" "ci_build" {
  name                 = "p360-ci-build"
  description          = "GitLab CI: build and push p360 images"
  assume_role_policy   = data.aws_iam_policy_document.ci_build_assume.json
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
    sid = "PushImages"
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

data "aws_iam_policy_document" "ci_deploy_assume" {
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
      values   = ["project_path:${var.gitlab_project_path}:ref_type:branch:ref:${var.protected_branch}"]
    }
  }
}

resource "aws_iam_role" "ci_deploy" {
  name                 = "p360-ci-deploy"
  description          = "GitLab CI on the protected branch: terraform and blue-green deployments"
  assume_role_policy   = data.aws_iam_policy_document.ci_deploy_assume.json
  max_session_duration = 3600
}

# Terraform manages nearly every service of the estate, so the deploy role holds
# PowerUserAccess plus the IAM actions on the project's own roles; it can only be
# assumed from the protected branch.
resource "aws_iam_role_policy_attachment" "ci_deploy_power_user" {
  role       = aws_iam_role.ci_deploy.name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}

data "aws_iam_policy_document" "ci_deploy_iam" {
  statement {
    sid = "ManageProjectRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:UpdateRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:PutRolePolicy",
      "iam:GetRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
      "iam:ListInstanceProfilesForRole",
      "iam:PassRole",
    ]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/p360-*"]
  }
  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/*"]
  }
}

resource "aws_iam_role_policy" "ci_deploy_iam" {
  name   = "manage-project-roles"
  role   = aws_iam_role.ci_deploy.id
  policy = data.aws_iam_policy_document.ci_deploy_iam.json
}
