"""Pulumi components, one concern per file, wired together by platform.py."""
