"""The Pulumi program body: everything `__main__.py` runs, importable by tests and the offline plan."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import Any

import pulumi

from components.cost import CostReport, guard_refusal, log_warnings
from components.deployment_guard import DeploymentGuard
from components.host_setup import StepSource
from components.platform import Platform
from components.secrets import GeneratedSecrets, missing_secrets, secret_requirements
from config.errors import ConfigError, ConfigIssue
from config.pulumi_config import StackSecrets, load_from_pulumi
from config.schema import StackConfig
from config.stack_file import is_placeholder
from cost.api import PlanCost, plan_sections
from cost.live import credentials_from_env
from render.steps import HostRuntime, HostStep
from spec.checks import spec_issues
from spec.resources import PlatformSpec, resolve


def _host(
    spec: PlatformSpec, config: StackConfig, server: str, runtime: HostRuntime, _secrets: Mapping[str, str]
) -> list[HostStep]:
    from render.host_steps import host_steps

    return host_steps(config, spec, server, runtime)


def _app(config: StackConfig, server: str, runtime: HostRuntime, secrets: Mapping[str, str]) -> list[HostStep]:
    from render.app import app_step, secret_names

    return [app_step(config, server, runtime, {name: secrets[name] for name in secret_names(config, server)})]


def _ops(config: StackConfig, server: str, runtime: HostRuntime, secrets: Mapping[str, str]) -> list[HostStep]:
    from render.ops import ops_step
    from render.ops_conf import ops_secret_names

    step = ops_step(config, server, runtime, {name: secrets[name] for name in ops_secret_names(config) if name in secrets})
    return [step] if step is not None else []


def step_sources(spec: PlatformSpec) -> list[StepSource]:
    """Host hardening first, then the application, then backups/alerts: one remote command each.
    `spec`: the stack resolved once by the program; the host steps read a server's volumes and floating IP there."""
    return [StepSource(partial(_host, spec)), StepSource(_app, uses_secrets=True), StepSource(_ops, uses_secrets=True)]


def _cloudflare_token() -> pulumi.Output[str] | None:
    token = pulumi.Config("cloudflare").get_secret("apiToken")
    if token is None and os.environ.get("CLOUDFLARE_API_TOKEN"):
        token = pulumi.Output.secret(os.environ["CLOUDFLARE_API_TOKEN"])
    return token


def secret_values(
    config: StackConfig, secrets: StackSecrets, opts: pulumi.ResourceOptions | None = None
) -> dict[str, pulumi.Output[str]]:
    """Check that every secret the stack needs exists or can be generated; then build the values."""
    needs = secret_requirements(config)
    issues = missing_secrets(needs.required, secrets.provided)
    cloudflare = _cloudflare_token() if needs.cloudflare else None
    if needs.cloudflare and cloudflare is None:
        hint = "needed for Let's Encrypt DNS-01: pulumi config set --secret cloudflare:apiToken"
        issues.append(ConfigIssue("cloudflare:apiToken", hint))
    if issues:
        raise pulumi.RunError(ConfigError(issues, f"stack {pulumi.get_stack()}").render())
    values: dict[str, pulumi.Output[str]] = {}
    if needs.generatable or needs.required:
        generated = GeneratedSecrets(
            "secrets", config.resource_prefix(), generatable=needs.generatable, required=needs.required,
            provided=secrets.provided, opts=opts,
        )
        values |= generated.values
    for name in needs.cloudflare:
        assert cloudflare is not None
        values[name] = pulumi.Output.secret(cloudflare)
    return values


def run(*, enforce_guards: bool = True, live_prices: bool | None = None) -> Platform:
    """The whole program. `enforce_guards`: stop over an enforced budget (or a total it cannot check) or
    over capacity before any resource of the stack is registered (`pulumi up`/`preview`); the offline plan
    passes False, reports the problem itself (exit 1) and still lists the resources.

    `live_prices`: read current prices and availability from the Hetzner API. None (`pulumi up`): as the
    stack's pricing.live says (default off); the offline plan passes its --live-prices flag, so without
    it no network call is made whatever the environment or the stack file holds."""
    try:
        config, secrets = load_from_pulumi()
        issues = spec_issues(config)
        if issues:
            raise ConfigError(issues, f"stack {pulumi.get_stack()}")
    except ConfigError as error:
        # RunError prints the message without a Python traceback.
        raise pulumi.RunError(error.render()) from None
    spec = resolve(config)
    # Compares with the last deployment; every component below waits for it, so a refused resize or
    # SSH change stops the run before a single resource is registered.
    guard = DeploymentGuard(spec, config.ssh)
    live = config.pricing.live if live_prices is None else live_prices
    token, endpoint = _live_credentials() if live else (None, None)

    def price(previous: dict[str, Any]) -> PlanCost:
        # Priced from the same resolved specs the components create; each server keeps the order date the
        # last deployment recorded (spec/order_dates.py).
        return plan_sections(config, spec, previous_outputs=previous, live=live, token=token, endpoint=endpoint)

    plan_cost: pulumi.Output[PlanCost] = guard.previous.apply(price)
    if enforce_guards:
        def refusal(plan: PlanCost) -> str | None:
            message = guard_refusal(plan)
            if message is None:
                log_warnings(plan)
            return message

        guard.require(plan_cost.apply(refusal))
    dns_adoption = None
    if spec.dns_zone and config.dns is not None:
        # Imported here on purpose: pulumi_cloudflare costs ~4 s and stacks without DNS skip it.
        from components.dns import dns_adoption as read_zone

        # Records already in the zone: adopted on request, otherwise refused by the guard, by name.
        dns_adoption = read_zone(spec, config.dns.adopt_existing, guard.previous)
        guard.add_check(dns_adoption.apply(lambda plan: list(plan.problems)))
    gated = guard.options()
    values = secret_values(config, secrets, gated)
    platform = Platform(
        "platform", config, secrets, step_sources=step_sources(spec), secret_values=values, spec=spec, guard=guard,
        dns_adoption=dns_adoption,
        ordered_on=plan_cost.apply(lambda plan: {name: order.output_value for name, order in plan.order_dates.items()}),
        opts=gated,
    )
    cost = CostReport("cost", plan_cost, opts=gated)
    platform.plan_cost_output = plan_cost.apply(lambda plan: _keep(platform, plan))
    for key, value in platform.outputs.items():
        pulumi.export(key, value)
    pulumi.export("cost", cost.breakdown)
    pulumi.export("capacity", cost.capacity)
    return platform


def _keep(platform: Platform, plan: PlanCost) -> PlanCost:
    platform.plan_cost = plan  # the offline plan reads the priced report from the platform
    return plan


def _live_credentials() -> tuple[str | None, str | None]:
    """The Hetzner token and endpoint for a requested live read: from the environment, else from the
    provider's stack config (hcloud:token, hcloud:endpoint)."""
    env_token, env_endpoint = credentials_from_env()
    provider_config = pulumi.Config("hcloud")
    token = env_token or provider_config.get("token")
    if token is not None and is_placeholder(token):
        token = None  # the offline plan's stand-in, not a token
    return token, env_endpoint or provider_config.get("endpoint")
