# Target tracking: CPU for the API (each slot scales on its own), SQS backlog
# per task for the workers.
#
# An API slot's bounds belong to the deployment: scripts/ecs-slot sets them to
# api_min_count..api_max_count (deploy output slot_capacity) when it starts the
# slot and to 0..0 when it stops it, so that autoscaling never brings a stopped
# slot back. Both slots are created stopped (0..0); Terraform ignores the bounds
# afterwards, and a change of api_min_count/api_max_count takes effect at the
# next deployment.
resource "aws_appautoscaling_target" "api" {
  for_each = local.colours

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 0
  max_capacity       = 0

  lifecycle {
    ignore_changes = [min_capacity, max_capacity]
  }
}

resource "aws_appautoscaling_policy" "api_cpu" {
  for_each = local.colours

  name               = "${var.name}-api-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.api[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.api[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.api_cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# The worker's bounds belong to the deployment in the same way: created 0..0
# (a minimum of worker_min_count would let autoscaling start the worker before
# the first deploy has migrated the schema), set to worker_min_count..
# worker_max_count (deploy output worker_capacity) by scripts/ecs-slot when it
# starts the worker.
resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 0
  max_capacity       = 0

  lifecycle {
    ignore_changes = [min_capacity, max_capacity]
  }
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  name               = "${var.name}-worker-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_backlog_per_task
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    # Backlog per running task = visible messages of every job queue / running tasks.
    customized_metric_specification {
      dynamic "metrics" {
        for_each = var.worker_queue_names
        content {
          id          = "q${metrics.key}"
          return_data = false
          metric_stat {
            metric {
              namespace   = "AWS/SQS"
              metric_name = "ApproximateNumberOfMessagesVisible"
              dimensions {
                name  = "QueueName"
                value = metrics.value
              }
            }
            stat = "Sum"
          }
        }
      }
      metrics {
        id          = "tasks"
        return_data = false
        metric_stat {
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker.name
            }
          }
          stat = "Average"
        }
      }
      metrics {
        id          = "backlog_per_task"
        label       = "Messages per running worker task"
        expression  = "(${join(" + ", [for i, _ in var.worker_queue_names : "q${i}"])}) / tasks"
        return_data = true
      }
    }
  }
}
