"""Pricing, budget and capacity for a resolved PlatformSpec (pure: no Pulumi imports).

Entry points: `cost.api.plan_sections` (the plan's `cost` and `capacity` sections) and
`cost.cli.run_cost_command` (`hetzner-platform cost`). See docs/cost.md for the model.
"""
