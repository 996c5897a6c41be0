# One security group per tier. Rules are separate resources so that each one
# carries its own description and can be reviewed on its own.

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

resource "aws_security_group" "alb" {
  # checkov:skip=CKV2_AWS_5:Attached to the ALB (compute module) through this module's security_group_ids output.
  name        = "${var.name}-alb"
  description = "Application load balancer: HTTPS from CloudFront only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-alb", Tier = "edge" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https_from_cloudfront" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from CloudFront origin-facing addresses"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to p360 tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_security_group" "app" {
  # checkov:skip=CKV2_AWS_5:Attached to the ECS services (compute module) through this module's security_group_ids output.
  name        = "${var.name}-app"
  description = "p360 serve and p360 worker tasks"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-app", Tier = "app" }
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "HTTP from the load balancer (TLS ends at the ALB)"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to AWS APIs and partner APIs (TTD, Salesforce, Bombora)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "app_to_database" {
  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_egress_rule" "app_to_cache" {
  security_group_id            = aws_security_group.app.id
  description                  = "Redis (TLS)"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.cache.id
}

resource "aws_security_group" "database" {
  # checkov:skip=CKV2_AWS_5:Attached to the RDS instances (database module) through this module's security_group_ids output.
  name        = "${var.name}-database"
  description = "RDS PostgreSQL: only the app tier connects"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-database", Tier = "data" }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_app" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from p360 tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_security_group" "cache" {
  # checkov:skip=CKV2_AWS_5:Attached to the ElastiCache replication group (cache module) through this module's security_group_ids output.
  name        = "${var.name}-cache"
  description = "ElastiCache Redis: only the app tier connects"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-cache", Tier = "data" }
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_app" {
  security_group_id            = aws_security_group.cache.id
  description                  = "Redis from p360 tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_security_group" "lambda" {
  # checkov:skip=CKV2_AWS_5:Attached to the landing Lambda (messaging module) through this module's security_group_ids output.
  name        = "${var.name}-lambda"
  description = "Event-processing Lambda functions"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-lambda", Tier = "app" }
}

resource "aws_vpc_security_group_egress_rule" "lambda_https" {
  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to AWS APIs (through the VPC endpoints)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.cidr_block
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-endpoints", Tier = "endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.cidr_block
}

# The per-slot test listeners of the ALB (compute module), which the deploy
# controller's readiness checks and smoke suite use. The ALB is internet-facing,
# so a host inside the VPC reaches it at its public addresses, through its NAT
# gateway: the source the ALB sees is a NAT gateway's address, never a VPC
# address. Opening these ports to the NAT addresses opens them to this VPC only.
#
# They live in a second group of the ALB: the CloudFront prefix list alone
# counts as ~55 of the 60 inbound rules a group may hold (its max entries),
# and with one NAT gateway per zone (staging, production, DR) 3 x 2 slot rules
# took the ALB's group past the limit at apply.
resource "aws_security_group" "alb_slot_test" {
  # checkov:skip=CKV2_AWS_5:Attached to the ALB (compute module) through this module's security_group_ids output.
  name        = "${var.name}-alb-slot-test"
  description = "Application load balancer: per-slot test listeners from this VPC's NAT addresses"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-alb-slot-test", Tier = "edge" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_slot_test_from_vpc" {
  for_each = {
    for pair in setproduct(range(local.nat_count), var.slot_test_ports) : "nat${pair[0]}-${pair[1]}" => { nat = pair[0], port = pair[1] }
  }

  security_group_id = aws_security_group.alb_slot_test.id
  description       = "Per-slot test listener ${each.value.port} from this VPC (NAT gateway ${each.value.nat})"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = "${aws_eip.nat[each.value.nat].public_ip}/32"
}

# The host the deploy jobs run on (a GitLab runner in this VPC's private
# subnets, outside Terraform): `p360 deploy` there reaches the database, the
# slots' test listeners and the AWS APIs.
resource "aws_security_group" "deploy" {
  # checkov:skip=CKV2_AWS_5:Attached to the GitLab runner host of the deploy jobs, which Terraform does not manage (docs/runbooks/environment-setup.md).
  name        = "${var.name}-deploy"
  description = "Deploy runner: p360 deploy, terraform, the AWS CLI"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-deploy", Tier = "app" }
}

resource "aws_vpc_security_group_egress_rule" "deploy_https" {
  security_group_id = aws_security_group.deploy.id
  description       = "HTTPS to AWS APIs, GitLab, the Terraform and package registries"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "deploy_http" {
  security_group_id = aws_security_group.deploy.id
  description       = "HTTP to the Debian package mirrors (scripts/install-deploy-tools; apt verifies signatures)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "deploy_slot_test" {
  for_each = toset([for p in var.slot_test_ports : tostring(p)])

  security_group_id = aws_security_group.deploy.id
  description       = "The ALB's per-slot test listener ${each.key} (at its public addresses)"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "deploy_to_database" {
  security_group_id            = aws_security_group.deploy.id
  description                  = "PostgreSQL: migrations, pg_dump, the deployments table"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_ingress_rule" "database_from_deploy" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the deploy runner (p360 deploy)"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.deploy.id
}
