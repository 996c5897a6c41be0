output "primary_identifier" {
  description = "Identifier of the primary instance."
  value       = aws_db_instance.primary.identifier
}

output "primary_arn" {
  description = "ARN of the primary instance."
  value       = aws_db_instance.primary.arn
}

output "primary_address" {
  description = "Host name of the primary (writer)."
  value       = aws_db_instance.primary.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.primary.port
}

output "replica_addresses" {
  description = "Host names of the read replicas (reporting)."
  value       = aws_db_instance.replica[*].address
}

output "replica_identifiers" {
  description = "Identifiers of the read replicas."
  value       = aws_db_instance.replica[*].identifier
}

output "allocated_storage_gb" {
  description = "Allocated storage of the primary, in GiB (for free-space alarms)."
  value       = aws_db_instance.primary.allocated_storage
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master password in (null on a restored instance)."
  value       = try(aws_db_instance.primary.master_user_secret[0].secret_arn, null)
}

output "dr_automated_backups_arn" {
  description = "ARN of the automated backups replicated to the DR region (input of environments/dr)."
  value       = one(aws_db_instance_automated_backups_replication.dr[*].id)
}

output "subnet_group_name" {
  description = "DB subnet group of the instances (a scratch restore goes into it too)."
  value       = aws_db_subnet_group.this.name
}

output "parameter_group_name" {
  description = "DB parameter group of the instances (TLS enforced; a scratch restore uses it too)."
  value       = aws_db_parameter_group.this.name
}
