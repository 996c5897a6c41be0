output "app_url" {
  description = "URL of the application (null while standing by)."
  value       = one(module.p360[*].app_url)
}

output "deploy" {
  description = "Names and ARNs scripts/deploy works with (null while standing by)."
  value       = one(module.p360[*].deploy)
}

output "creative_base_url" {
  description = "Base URL of the creative files TTD fetches (null while standing by)."
  value       = one(module.p360[*].creative_base_url)
}

output "tenant_secrets_kms_key" {
  description = "The KMS key the tasks open tenants' data keys with: production's replica, by its alias name (null while standing by)."
  value       = one(module.p360[*].tenant_secrets_kms_key)
}
