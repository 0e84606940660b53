"""The Pulumi program body: everything `__main__.py` runs, importable by tests and the offline plan."""

from __future__ import annotations

import pulumi

from components.host import StepSource
from components.platform import Platform
from components.specs import resolve
from config.errors import ConfigError
from config.pulumi_config import load_from_pulumi

# The offline plan reports an exceeded budget itself (exit 1) and still lists the resources;
# `pulumi up`/`preview` stop before creating anything.
BUDGET_GUARD_ENFORCED = True


def step_sources() -> list[StepSource]:
    from render.host import host_steps

    return [StepSource(lambda config, server, runtime, _secrets: host_steps(config, server, runtime))]


def run() -> Platform:
    try:
        config, secrets = load_from_pulumi()
    except ConfigError as error:
        # RunError prints the message without a Python traceback.
        raise pulumi.RunError(error.render()) from None
    spec = resolve(config)
    platform = Platform("platform", config, secrets, step_sources=step_sources(), spec=spec)
    for key, value in platform.outputs.items():
        pulumi.export(key, value)
    return platform
