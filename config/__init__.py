"""Validated stack configuration: schema, catalogue and loaders."""
