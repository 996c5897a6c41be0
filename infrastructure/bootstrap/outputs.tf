output "state_bucket" {
  description = "State bucket of shared, dev, staging and production."
  value       = module.primary.bucket
}

output "lock_table" {
  description = "Lock table of shared, dev, staging and production."
  value       = module.primary.table
}

output "dr_state_bucket" {
  description = "State bucket of environments/dr (in the DR region)."
  value       = module.dr.bucket
}

output "dr_lock_table" {
  description = "Lock table of environments/dr (in the DR region)."
  value       = module.dr.table
}
