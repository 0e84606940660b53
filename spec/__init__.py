"""Pure resolution from the validated config to what gets built (resources, ports, paths, packages): no Pulumi."""
