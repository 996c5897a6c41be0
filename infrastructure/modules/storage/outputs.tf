# A bucket is handed out only once its policy, ownership and encryption are in
# place: the ALB checks at creation that it may write its access logs, and
# CloudFront's log delivery needs ACLs enabled, so whatever names one of these
# buckets must be created after them, not in parallel.
output "bucket_ids" {
  description = "Bucket names by purpose: creatives, uploads, exports, backups, audit-archive."
  value       = { for k, b in aws_s3_bucket.this : k => b.id }
  depends_on  = [aws_s3_bucket_policy.this, aws_s3_bucket_public_access_block.this, aws_s3_bucket_server_side_encryption_configuration.this]
}

output "bucket_arns" {
  description = "Bucket ARNs by purpose."
  value       = { for k, b in aws_s3_bucket.this : k => b.arn }
  depends_on  = [aws_s3_bucket_policy.this, aws_s3_bucket_public_access_block.this, aws_s3_bucket_server_side_encryption_configuration.this]
}

output "access_logs_bucket_id" {
  description = "Bucket that receives S3, ALB and CloudFront access logs."
  value       = aws_s3_bucket.access_logs.id
  depends_on  = [aws_s3_bucket_policy.access_logs, aws_s3_bucket_ownership_controls.access_logs, aws_s3_bucket_server_side_encryption_configuration.access_logs]
}

output "access_logs_bucket_domain_name" {
  description = "Regional domain name of the access-log bucket (CloudFront logging target)."
  value       = aws_s3_bucket.access_logs.bucket_regional_domain_name
  depends_on  = [aws_s3_bucket_policy.access_logs, aws_s3_bucket_ownership_controls.access_logs, aws_s3_bucket_server_side_encryption_configuration.access_logs]
}

output "replica_kms_key_arn" {
  description = "KMS key of the DR-region replicas (null without replicate_to_dr)."
  value       = one(aws_kms_key.dr[*].arn)
}

output "replica_bucket_ids" {
  description = "DR-region replica bucket names by purpose (empty without replicate_to_dr)."
  value       = { for k, b in aws_s3_bucket.replica : k => b.id }
}

output "dr_alarm_topic_arn" {
  description = "The DR-region topic the replication latency alarms tell (null without replicate_to_dr)."
  value       = one(aws_sns_topic.dr_alarms[*].arn)
}
