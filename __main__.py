"""Pulumi entry point for `pulumi up --stack prod|staging`: all logic lives in components/program.py."""

from components.program import run

run()
