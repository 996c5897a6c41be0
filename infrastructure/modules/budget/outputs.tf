output "budget_id" {
  description = "ID of the budget."
  value       = aws_budgets_budget.this.id
}
