output "bucket" {
  description = "State bucket."
  value       = aws_s3_bucket.state.id
}

output "table" {
  description = "Lock table."
  value       = aws_dynamodb_table.locks.name
}
