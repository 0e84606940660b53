"""Pure resolution from a validated config (and the last deployment's outputs) to what gets built: no Pulumi."""
