"""app.registries: validation, and the registry tokens travel as app secrets to the servers that pull."""

from __future__ import annotations

import pytest

from config.errors import ConfigError
from render.app import secret_names, secret_specs
from render.registry import registry_logins
from tests.stacks import app_stack, phase2_app_stack, small_app

from .conftest import load

GHCR = {"ghcr.io": {"username": "acme-bot", "passwordSecret": "GHCR_TOKEN"}}


def test_registry_tokens_are_set_secrets_of_every_server_that_runs_the_app() -> None:
    config = load(phase2_app_stack(small_app(registries={**GHCR, "docker.io": {"username": "acme", "passwordSecret": "HUB_TOKEN"}})))
    for server in ("web", "db", "worker"):
        assert {"GHCR_TOKEN", "HUB_TOKEN"} <= set(secret_names(config, server))
    specs = {spec.name: spec for spec in secret_specs(config)}
    assert not specs["GHCR_TOKEN"].generate and specs["GHCR_TOKEN"].source == "appSecrets"
    logins = {login.host: login.server_arg for login in registry_logins(config)}
    assert logins == {"docker.io": "", "ghcr.io": "ghcr.io"}  # Docker Hub is docker login's default server


@pytest.mark.parametrize(("registries", "generate", "path", "reason"), [
    ({"ghcr io": {"username": "a", "passwordSecret": "T"}}, [], "app.registries", "not a registry host"),
    ({"ghcr.io": {"username": "a b", "passwordSecret": "T"}}, [], "app.registries.ghcr.io.username", "no spaces"),
    ({"ghcr.io": {"username": "a", "passwordSecret": "token"}}, [], "app.registries.ghcr.io.passwordSecret", "UPPER_SNAKE_CASE"),
    (GHCR, ["GHCR_TOKEN"], "app.generateSecrets[0]", "registry token"),
])
def test_bad_registry_settings_name_the_field(registries: dict, generate: list[str], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(app_stack(small_app(registries=registries, generateSecrets=generate)))
    issues = {issue.path: issue.reason for issue in caught.value.issues}
    assert path in issues and reason in issues[path], issues
