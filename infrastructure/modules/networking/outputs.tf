output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Availability zones the subnets are in."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (ECS tasks, Lambda)."
  value       = aws_subnet.private[*].id
}

output "data_subnet_ids" {
  description = "Isolated data subnets (RDS, ElastiCache)."
  value       = aws_subnet.data[*].id
}

output "nat_public_ips" {
  description = "Public addresses of the NAT gateways: give these to partners that allow-list callers."
  value       = aws_eip.nat[*].public_ip
}

output "security_group_ids" {
  description = "Security group per tier: alb, alb_slot_test (the ALB's second group), app, database, cache, lambda, endpoints, deploy (the deploy runner host)."
  value = {
    alb           = aws_security_group.alb.id
    alb_slot_test = aws_security_group.alb_slot_test.id
    app           = aws_security_group.app.id
    database      = aws_security_group.database.id
    cache         = aws_security_group.cache.id
    lambda        = aws_security_group.lambda.id
    endpoints     = aws_security_group.endpoints.id
    deploy        = aws_security_group.deploy.id
  }
}

output "flow_log_group_name" {
  description = "CloudWatch log group of the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
