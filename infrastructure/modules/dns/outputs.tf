output "zone_id" {
  description = "ID of the hosted zone."
  value       = data.aws_route53_zone.this.zone_id
}

output "regional_certificate_arn" {
  description = "Validated regional certificate (origin, API and slots host names)."
  value       = aws_acm_certificate_validation.regional.certificate_arn
}

output "cloudfront_certificate_arn" {
  description = "Validated us-east-1 certificate of the application host name, for CloudFront (null without create_app_record)."
  value       = one(aws_acm_certificate_validation.cloudfront[*].certificate_arn)
}

output "health_check_id" {
  description = "Route 53 health check of the primary application (null unless PRIMARY)."
  value       = one(aws_route53_health_check.primary[*].id)
}
