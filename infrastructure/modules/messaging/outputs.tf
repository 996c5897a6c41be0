output "queue_urls" {
  description = "Queue URLs by name."
  value       = { for k, q in aws_sqs_queue.this : k => q.url }
}

output "queue_arns" {
  description = "Queue ARNs by name."
  value       = { for k, q in aws_sqs_queue.this : k => q.arn }
}

output "queue_names" {
  description = "Queue names by name (CloudWatch dimension QueueName)."
  value       = { for k, q in aws_sqs_queue.this : k => q.name }
}

output "dlq_names" {
  description = "Dead-letter queue names by queue."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs by queue."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "topic_arns" {
  description = "SNS topic ARNs: alerts, notifications."
  value       = { for k, t in aws_sns_topic.this : k => t.arn }
}

output "lambda_function_name" {
  description = "Name of the landing Lambda."
  value       = aws_lambda_function.landing.function_name
}
