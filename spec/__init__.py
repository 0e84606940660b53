"""Pure resolution from the validated config to what the components, renderers and CLI use (no Pulumi)."""
