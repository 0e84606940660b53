"""Evaluate the real Pulumi program in-process under mocks: no CLI, no credentials, no network."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi

from cli.mocks import RecordedResource, RecordingMocks
from config.loader import REQUIRED_SECRETS
from config.schema import StackConfig
from config.stack_file import NAMESPACE, StackFile, secret_placeholder

PROJECT = "hetzner-platform"


@dataclass
class Evaluation:
    stack: str
    mocks: RecordingMocks
    outputs: dict[str, Any] = field(default_factory=dict)
    platform: Any = None
    secret_notes: dict[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> list[RecordedResource]:
        return self.mocks.custom_resources()


def pulumi_config_map(
    stack: StackFile, validated: StackConfig | None = None
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """The config map Pulumi would hand the program, with placeholders where a secret can't be read."""
    config: dict[str, str] = {}
    notes: dict[str, str] = {}
    for key, value in stack.values.items():
        config[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    for full_key, value in stack.provider_values.items():
        config[full_key] = value if isinstance(value, str) else json.dumps(value)
    for key in REQUIRED_SECRETS:
        if key not in stack.values:
            config[f"{NAMESPACE}:{key}"] = secret_placeholder(key, "not set yet; pulumi up needs it")
            notes[key] = "not set: `pulumi up` will refuse to run until it is set"
    _app_secret_placeholders(stack, validated, config, notes)
    for key in stack.secret_keys:
        notes.setdefault(key, "encrypted in the stack file: a placeholder stands in for it")
    secret_keys = [f"{NAMESPACE}:{key}" for key in (*stack.secret_keys, *REQUIRED_SECRETS, "appSecrets") if ":" not in key]
    secret_keys.append("cloudflare:apiToken")
    secret_keys += [key for key in stack.secret_keys if ":" in key]
    return config, sorted(set(secret_keys)), notes


def _app_secret_placeholders(
    stack: StackFile, validated: StackConfig | None, config: dict[str, str], notes: dict[str, str]
) -> None:
    """Stand-ins for app/ops secrets that only the user can set, so the offline plan can still render.

    `validated`: the stack's config when the caller already validated it (the plan has)."""
    from components.secrets import secret_requirements
    from config.loader import validate_config

    needs = secret_requirements(validated if validated is not None else validate_config(stack.values))
    provided = stack.values.get("appSecrets") or {}
    app_secrets = dict(provided) if isinstance(provided, dict) else {}
    for name in needs.required:
        if name not in app_secrets:
            app_secrets[name] = secret_placeholder(f"appSecrets.{name}", "not set yet; pulumi up needs it")
            notes[f"appSecrets.{name}"] = "not set: `pulumi up` will refuse to run until it is set"
    for name in needs.generatable:
        notes.setdefault(f"appSecrets.{name}", "set" if name in app_secrets else "generated once by pulumi-random at pulumi up")
    if app_secrets:
        config[f"{NAMESPACE}:appSecrets"] = json.dumps(app_secrets)
    if needs.cloudflare and "cloudflare:apiToken" not in stack.provider_values:
        config["cloudflare:apiToken"] = secret_placeholder("cloudflare:apiToken", "not set yet; pulumi up needs it")
        notes["cloudflare:apiToken"] = "not set: needed for Let's Encrypt DNS-01 (pulumi config set --secret cloudflare:apiToken)"


def evaluate(
    stack: StackFile,
    *,
    enforce_budget: bool = False,
    validated: StackConfig | None = None,
    previous_outputs: dict[str, Any] | None = None,
    live_prices: bool = False,
) -> Evaluation:
    """Run components.program.run() exactly as `pulumi up` would, against recording mocks.

    `previous_outputs`: the stack's outputs of its last deployment, answered to the deployment guard's
    self-StackReference, so the guard and the day-2 checks run offline; None: a first deployment.
    `live_prices` (plan --live-prices) is the only way the evaluation reads the Hetzner API; without it no
    network call."""
    from components import program

    mocks = RecordingMocks()
    if previous_outputs is not None:
        mocks.previous_outputs = dict(previous_outputs)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack.stack_name, preview=False)
    config, secret_keys, notes = pulumi_config_map(stack, validated)
    pulumi.runtime.set_all_config(config, secret_keys=secret_keys)
    evaluation = Evaluation(stack=stack.stack_name, mocks=mocks, secret_notes=notes)

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        platform = program.run(enforce_guards=enforce_budget, live_prices=live_prices)
        evaluation.platform = platform
        # Wait for the priced report too: it resolves once the last deployment's outputs are read.
        return pulumi.Output.all(platform.outputs, platform.plan_cost_output).apply(lambda args: evaluation.outputs.update(args[0]))

    run()
    return evaluation
