"""Application and operations secrets: taken from Pulumi secret config, or generated once and kept
in the (encrypted) state. They only ever travel as Pulumi secrets into a 0600 env file on the host."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from config.errors import ConfigIssue
from config.schema import StackConfig


def missing_secrets(required: list[str], provided: dict[str, pulumi.Output[str]]) -> list[ConfigIssue]:
    """Secrets that cannot be generated (webhook URLs, S3 keys) must be set before anything is created."""
    hint = "required secret is not set: pulumi config set --secret --path 'hetzner-platform:appSecrets.{}'"
    return [ConfigIssue(f"appSecrets.{name}", hint.format(name)) for name in required if name not in provided]


class GeneratedSecrets(pulumi.ComponentResource):
    """One value per name: the configured one, else a random 32-character password created once."""

    def __init__(
        self,
        name: str,
        prefix: str,
        *,
        generatable: list[str],
        required: list[str],
        provided: dict[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:app:Secrets", name, None, opts)
        self.values: dict[str, pulumi.Output[str]] = {}
        for secret in sorted(set(generatable)):
            if secret in provided:
                self.values[secret] = pulumi.Output.secret(provided[secret])
                continue
            password = random.RandomPassword(
                f"{prefix}-secret-{secret.lower().replace('_', '-')}",
                length=32,
                special=False,  # values end up in env files and URLs: keep them shell- and URL-safe
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.values[secret] = pulumi.Output.secret(password.result)
        for secret in sorted(set(required)):
            self.values[secret] = pulumi.Output.secret(provided[secret])
        self.register_outputs({"names": sorted(self.values)})


# Ops secrets that are passwords we may invent; the others (webhook URL, S3 keys, an SSH key for a
# Storage Box) only the user can provide.
OPS_GENERATABLE = frozenset({"resticPassword", "grafanaAdminPassword"})


@dataclass(frozen=True)
class SecretRequirements:
    generatable: list[str]
    required: list[str]
    cloudflare: list[str]  # filled from the Cloudflare API token (DNS-01 for Let's Encrypt)


def secret_requirements(config: StackConfig) -> SecretRequirements:
    """Every secret the app and ops steps of this stack read, and where its value comes from."""
    from render.app import secret_specs
    from render.ops_conf import ops_secret_names

    generatable: list[str] = []
    required: list[str] = []
    cloudflare: list[str] = []
    for spec in secret_specs(config):
        if spec.source == "cloudflare":
            cloudflare.append(spec.name)
        elif spec.generate:
            generatable.append(spec.name)
        else:
            required.append(spec.name)
    for name in ops_secret_names(config):
        (generatable if name in OPS_GENERATABLE else required).append(name)
    return SecretRequirements(sorted(set(generatable)), sorted(set(required)), sorted(set(cloudflare)))
