output "replication_group_id" {
  description = "ID of the replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint" {
  description = "Primary endpoint host name."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "member_clusters" {
  description = "Cache cluster ids of the nodes (CloudWatch dimension CacheClusterId), known at plan time."
  # ElastiCache names the nodes of a cluster-mode-disabled replication group
  # <group id>-001, -002, ...; the resource's member_clusters attribute says the
  # same but only after apply, and the alarms' for_each needs the keys at plan
  # time (plan failed with "Invalid for_each argument").
  value = [for i in range(var.node_count) : format("%s-%03d", aws_elasticache_replication_group.this.replication_group_id, i + 1)]
}
