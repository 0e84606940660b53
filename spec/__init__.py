"""Pure resolution of a validated config into what it means on the servers (ports, ...): no Pulumi."""
