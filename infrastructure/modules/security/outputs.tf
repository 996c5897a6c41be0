output "kms_key_arn" {
  description = "ARN of the platform's customer-managed KMS key."
  value       = aws_kms_key.main.arn
}

output "kms_key_id" {
  description = "ID of the platform's customer-managed KMS key."
  value       = aws_kms_key.main.key_id
}

output "tenant_secrets_kms_key_id" {
  description = "What the application is given as secrets.kms_key_id (P360_SECRETS__KMS_KEY_ID): the alias name of the tenant secrets key, the same in the primary and the DR region."
  value       = local.tenant_secrets_alias
}

output "tenant_secrets_kms_key_arn" {
  description = "ARN of this stack's tenant secrets key (null where the stack uses another stack's key, tenant_secrets_key_alias)."
  value       = one(aws_kms_key.tenant_secrets[*].arn)
}

output "tenant_secrets_kms_replica_key_arn" {
  description = "ARN of the tenant secrets key's replica in secret_replica_region (null: not replicated)."
  value       = one(aws_kms_replica_key.tenant_secrets[*].arn)
}

output "secret_arns" {
  description = "Secrets Manager ARNs by name: database, redis, ttd, salesforce, bombora, origin-verify."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "regional_web_acl_arn" {
  description = "WAF web ACL for the ALB and API Gateway."
  value       = aws_wafv2_web_acl.regional.arn
}

output "cloudfront_web_acl_arn" {
  description = "WAF web ACL (us-east-1, CLOUDFRONT scope) for the CloudFront distribution."
  value       = one(aws_wafv2_web_acl.cloudfront[*].arn)
}

output "execution_role_arn" {
  description = "ECS task execution role."
  value       = aws_iam_role.execution.arn
}

output "api_task_role_arn" {
  description = "Task role of p360 serve."
  value       = aws_iam_role.api.arn
}

output "migrate_task_role_arn" {
  description = "Task role of the one-off migrate task (p360 migrate, restore-check, audit verify)."
  value       = aws_iam_role.migrate.arn
}

output "worker_task_role_arn" {
  description = "Task role of p360 worker."
  value       = aws_iam_role.worker.arn
}

output "guardduty_detector_id" {
  description = "GuardDuty detector (null when another stack owns the account controls)."
  value       = one(aws_guardduty_detector.this[*].id)
}

output "cloudtrail_arn" {
  description = "CloudTrail trail (null when another stack owns the account controls)."
  value       = one(aws_cloudtrail.this[*].arn)
}
