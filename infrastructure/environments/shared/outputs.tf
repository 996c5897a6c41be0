output "repository_url" {
  description = "ECR repository (input image_repository_url of every environment)."
  value       = module.registry.repository_url
}

output "ci_build_role_arn" {
  description = "Role GitLab CI assumes to push images (CI variable AWS_BUILD_ROLE_ARN)."
  value       = aws_iam_role.ci_build.arn
}

output "ci_deploy_role_arn" {
  description = "Role GitLab CI assumes on the protected branch to deploy (CI variable AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.ci_deploy.arn
}
