output "replication_group_id" {
  description = "ID of the replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint" {
  description = "Primary endpoint host name."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "member_clusters" {
  description = "Cache cluster ids of the nodes (CloudWatch dimension CacheClusterId)."
  value       = sort(aws_elasticache_replication_group.this.member_clusters)
}
