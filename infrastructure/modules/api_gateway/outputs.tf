output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_arn" {
  description = "ARN of the deployed stage."
  value       = aws_api_gateway_stage.this.arn
}

output "regional_domain_name" {
  description = "Regional domain name of the custom domain, for the alias record."
  value       = aws_api_gateway_domain_name.this.regional_domain_name
}

output "regional_zone_id" {
  description = "Hosted zone of the custom domain, for the alias record."
  value       = aws_api_gateway_domain_name.this.regional_zone_id
}

output "usage_plan_ids" {
  description = "Usage plan ids by name."
  value       = { for k, p in aws_api_gateway_usage_plan.this : k => p.id }
}

output "api_key_ids" {
  description = "API key ids by consumer (values: aws apigateway get-api-key --include-value)."
  value       = { for k, key in aws_api_gateway_api_key.this : k => key.id }
}
