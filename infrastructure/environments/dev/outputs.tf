output "app_url" {
  description = "URL of the application."
  value       = module.p360.app_url
}

output "api_url" {
  description = "URL of the external API."
  value       = module.p360.api_url
}

output "deploy" {
  description = "Names and ARNs scripts/deploy and p360 deploy work with."
  value       = module.p360.deploy
}

output "dr_automated_backups_arn" {
  description = "Replicated RDS automated backups in the DR region."
  value       = module.p360.dr_automated_backups_arn
}

output "dr_replicas" {
  description = "DR-region replica buckets and their KMS key, and the replica of the tenant secrets key."
  value       = module.p360.dr_replicas
}

output "tenant_secrets_kms_key" {
  description = "The KMS key that wraps tenants' data keys: its alias name (P360_SECRETS__KMS_KEY_ID) and ARN."
  value       = module.p360.tenant_secrets_kms_key
}

output "nat_public_ips" {
  description = "Egress addresses for partner allow-lists."
  value       = module.p360.nat_public_ips
}

output "creative_base_url" {
  description = "Base URL of the creative files TTD fetches: {base}/{creative id}."
  value       = module.p360.creative_base_url
}

output "restore_test" {
  description = "The monthly restore test: state machine (start-execution runs it on demand), schedule, scratch instance and the endpoint the restore-test secret names (null where it is off)."
  value       = module.p360.restore_test
}
