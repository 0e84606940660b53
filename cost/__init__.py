"""Pricing, budget and capacity for a resolved PlatformSpec (pure: no Pulumi imports).

Entry points: `cost.api.plan_sections` (the plan's `cost` and `capacity` sections) and
`cost.report.render_cost_report` (the text `hetzner-platform cost` prints, cli/cost_command.py). See
docs/cost.md for the model.
"""
