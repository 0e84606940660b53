"""Application and operations secrets: taken from Pulumi secret config, or generated once and kept
in the (encrypted) state. They only ever travel as Pulumi secrets into a 0600 env file on the host."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from config.errors import ConfigIssue


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
