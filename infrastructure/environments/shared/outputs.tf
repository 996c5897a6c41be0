output "repository_url" {
  description = "ECR repository (input image_repository_url of every environment)."
  value       = module.registry.repository_url
}

output "ci_build_role_arn" {
  description = "Role GitLab CI assumes to push images (CI variable AWS_BUILD_ROLE_ARN)."
  value       = aws_iam_role.ci_build.arn
}

output "ci_deploy_role_arns" {
  description = "Role GitLab CI assumes to deploy each environment (CI variables AWS_ROLE_ARN_DEV, _STAGING, _PRODUCTION, _DR)."
  value       = { for env, role in aws_iam_role.ci_deploy : env => role.arn }
}

output "ci_permissions_boundary_arn" {
  description = "Permissions boundary of the CI roles; every role a deploy role creates must carry it (aws_iam_role permissions_boundary)."
  value       = aws_iam_policy.ci_boundary.arn
}
