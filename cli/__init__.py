"""The `hetzner-platform` command: offline plan and cost report."""
