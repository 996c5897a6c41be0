output "state_machine_arn" {
  description = "The restore test's state machine: aws stepfunctions start-execution --state-machine-arn <this> runs it on demand."
  value       = aws_sfn_state_machine.this.arn
}

output "schedule_name" {
  description = "The EventBridge Scheduler schedule that starts it (default group)."
  value       = aws_scheduler_schedule.this.name
}

output "schedule_expression" {
  description = "When the schedule starts it."
  value       = var.schedule_expression
}

output "scratch_instance_identifier" {
  description = "Identifier of the scratch RDS instance the backup is restored into (deleted by every execution)."
  value       = local.scratch_identifier
}

output "scratch_address" {
  description = "Endpoint the scratch instance gets: the host the restore-test secret's URLs must name."
  value       = local.scratch_address
}

output "database_secret_arn" {
  description = "The restore-test secret, JSON {\"url\", \"app_url\"}: the database and database-app URLs with the host scratch_address."
  value       = aws_secretsmanager_secret.database.arn
}

output "task_definition_family" {
  description = "Task definition family of p360 restore-check --record (the state machine runs its latest revision)."
  value       = aws_ecs_task_definition.restore_check.family
}

output "log_group_names" {
  description = "Log groups: task (the check's output), state_machine (the executions)."
  value = {
    task          = aws_cloudwatch_log_group.task.name
    state_machine = aws_cloudwatch_log_group.state_machine.name
  }
}
