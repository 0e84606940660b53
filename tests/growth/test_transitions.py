"""Every routine edit of every preset, evaluated before and after under mocks (issue 14).

For each preset (examples/ and the project's own Pulumi.prod/staging.yaml) and each edit, the preset is
planned as deployed, then the edited config is planned with that plan's outputs as the last deployment.
Each case asserts what the real providers need: no running server or volume replaced, no running server
moved into or out of a placement group, SSH key and private-IP resources that stay put, only the expected
host steps run again, the secret steps wrapped so a failure cannot echo a secret, and the refusals the
deployment guard must give before anything is touched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.secrets import secret_requirements
from config.loader import validate_config
from tests.growth.transitions import (
    COMMAND,
    DOWNSIZE,
    PRESETS,
    ROOT,
    UPSIZE,
    NotApplicable,
    Transition,
    edited_config,
    evaluate_transition,
    first_server,
)
from tests.keys import SECOND_KEY
from tests.stacks import PRIVATE_NETWORK

SERVER = "hcloud:index/server:Server"
NEVER_REPLACED = {SERVER, "hcloud:index/volume:Volume", "hcloud:index/primaryIp:PrimaryIp", "hcloud:index/floatingIp:FloatingIp",
                  "hcloud:index/loadBalancer:LoadBalancer", "hcloud:index/network:Network", "hcloud:index/sshKey:SshKey"}
WRAPPED_STEPS = ("app", "ops")


@dataclass(frozen=True)
class Case:
    edit: Callable[[dict[str, Any]], dict[str, Any] | None]
    reruns: frozenset[str] = frozenset()  # host steps (by kind) that may run again on existing servers
    refused: str | None = None  # the guard must refuse with this text
    base: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None  # the state before the edit


def _server(values: dict[str, Any]) -> dict[str, Any]:
    return values["servers"][first_server(values)]


def as_multi_server(values: dict[str, Any]) -> dict[str, Any]:
    """What config validation asks for when a single-server stack gets a second server: a private network,
    a password on a Redis now reachable over it, and stateful worker services pinned to their server."""
    values.setdefault("network", copy.deepcopy(PRIVATE_NETWORK))
    first = first_server(values)
    for name, service in ((values.get("app") or {}).get("services") or {}).items():
        if name == "redis" or str(service.get("image", "")).startswith("redis"):
            service.setdefault("configFiles", {})["passwordSecret"] = "REDIS_PASSWORD"
        if service.get("volumes") or name.startswith("worker"):
            service.setdefault("server", first)
    return values


def add_server(values: dict[str, Any]) -> dict[str, Any]:
    values = as_multi_server(values)
    values["servers"]["zextra"] = {"serverType": "cx23", "roles": ["worker"]}
    return values


def add_server_sorting_first(values: dict[str, Any]) -> dict[str, Any] | None:
    if "network" not in values:
        return None  # no private addresses yet: nothing can move
    values = as_multi_server(values)
    values["servers"]["aaextra"] = {"serverType": "cx23", "roles": ["worker"]}
    return values


def remove_last_server(values: dict[str, Any]) -> dict[str, Any] | None:
    """Starting from add_server's state: the added server goes again."""
    values["servers"].pop("zextra")
    return values


def with_keys(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(values: dict[str, Any]) -> dict[str, Any]:
        current = values["ssh"]["publicKeys"]
        values["ssh"]["publicKeys"] = [current[0] if key == "FIRST" else key for key in keys]
        return values

    return edit


def reordered_keys(values: dict[str, Any]) -> dict[str, Any]:
    values["ssh"]["publicKeys"].reverse()
    return values


def without_first_key(values: dict[str, Any]) -> dict[str, Any]:
    values["ssh"]["publicKeys"].pop(0)
    return values


def resize(direction: str, keep_disk: bool) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def edit(values: dict[str, Any]) -> dict[str, Any] | None:
        server = _server(values)
        target = (UPSIZE if direction == "up" else DOWNSIZE).get(server["serverType"])
        if target is None:
            return None
        server["serverType"] = target
        server["keepDisk"] = keep_disk
        return values

    return edit


def add_volume(values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("volumes", {})["extra"] = {"sizeGb": 10, "server": first_server(values), "mountPoint": "/mnt/extra"}
    return values


def grow_volume(values: dict[str, Any]) -> dict[str, Any] | None:
    if not values.get("volumes"):
        return None
    name = sorted(values["volumes"])[0]
    values["volumes"][name]["sizeGb"] += 10
    return values


def add_lb(values: dict[str, Any]) -> dict[str, Any] | None:
    if values.get("loadBalancer"):
        return None
    if not any("web" in (s.get("roles") or ["web"]) for s in values["servers"].values()):
        return None
    # The LB reaches the servers privately (the proxy trusts only its private address for PROXY protocol).
    values.setdefault("network", copy.deepcopy(PRIVATE_NETWORK))
    values["loadBalancer"] = {"type": "lb11"}
    return values


def remove_lb(values: dict[str, Any]) -> dict[str, Any] | None:
    return values if values.pop("loadBalancer", None) else None


def add_fip(values: dict[str, Any]) -> dict[str, Any] | None:
    if values.get("floatingIp"):
        return None
    values["floatingIp"] = {"type": "ipv4"}
    return values


def remove_fip(values: dict[str, Any]) -> dict[str, Any] | None:
    return values if values.pop("floatingIp", None) else None


def add_dns_record(values: dict[str, Any]) -> dict[str, Any] | None:
    if not values.get("dns"):
        return None
    values["dns"]["records"].append({"name": "status"})
    return values


def remove_dns_record(values: dict[str, Any]) -> dict[str, Any] | None:
    """Starting from add_dns_record's state: the added record goes again."""
    values["dns"]["records"] = [record for record in values["dns"]["records"] if record["name"] != "status"]
    return values


def change_image_tag(values: dict[str, Any]) -> dict[str, Any] | None:
    services = (values.get("app") or {}).get("services") or {}
    # An application image, not a database's (the ops step backs databases up with their image).
    for name, service in services.items():
        if name in ("postgres", "redis", "meilisearch"):
            continue
        image = service.get("image")
        if isinstance(image, str) and ":" in image.rsplit("/", 1)[-1]:
            service["image"] = image.rsplit(":", 1)[0] + ":9.9.9-transition"
            return values
    return None


def secret_name(values: dict[str, Any]) -> str | None:
    needs = secret_requirements(validate_config(values))
    names = needs.generatable + needs.required
    return names[0] if names else None


def change_secret(values: dict[str, Any]) -> dict[str, Any] | None:
    name = secret_name(values)
    if name is None:
        return None
    # A value each secret's own checks accept (the alert webhook must be an http(s) URL).
    new_value = "https://hooks.example.com/changed-8c1d" if name == "alertWebhookUrl" else "changed-value-8c1d"
    values["appSecrets"] = {**(values.get("appSecrets") or {}), name: new_value}
    return values


CASES: dict[str, Case] = {
    "add a server": Case(add_server, reruns=frozenset({"app", "ops", "firewall"})),
    "add a server that sorts first": Case(add_server_sorting_first, refused="Private IP guard"),
    "remove a server": Case(remove_last_server, reruns=frozenset({"app", "ops", "firewall"}), base=add_server),
    "add an SSH key": Case(with_keys("FIRST", SECOND_KEY), reruns=frozenset({"ssh"})),
    "add an SSH key first": Case(with_keys(SECOND_KEY, "FIRST"), reruns=frozenset({"ssh"})),
    "replace the SSH key": Case(with_keys(SECOND_KEY), reruns=frozenset({"ssh"})),
    "reorder the SSH keys": Case(reordered_keys, reruns=frozenset({"ssh"}), base=with_keys("FIRST", SECOND_KEY)),
    "remove the first SSH key": Case(without_first_key, reruns=frozenset({"ssh"}), base=with_keys("FIRST", SECOND_KEY)),
    "resize up": Case(resize("up", False)),
    "resize up keeping the disk": Case(resize("up", True)),
    "resize down": Case(resize("down", False), refused="disk shrink"),
    "resize down keeping the disk": Case(resize("down", True), refused="whatever keepDisk says"),
    "add a volume": Case(add_volume, reruns=frozenset({"storage", "ops"})),
    "grow a volume": Case(grow_volume),
    "add the load balancer": Case(add_lb, reruns=frozenset({"app", "firewall"})),
    "remove the load balancer": Case(remove_lb, reruns=frozenset({"app", "firewall"})),
    "add the floating IP": Case(add_fip),
    "remove the floating IP": Case(remove_fip),
    # ops watches the certificates of every name (HP_TLS_DOMAINS).
    "add a DNS record": Case(add_dns_record, reruns=frozenset({"app", "ops"})),
    "remove a DNS record": Case(remove_dns_record, reruns=frozenset({"app", "ops"}), base=add_dns_record),
    "change an image tag": Case(change_image_tag, reruns=frozenset({"app"})),
    "change a secret": Case(change_secret, reruns=frozenset({"app", "ops"})),
}


def by_name(transition: Transition, after: bool, typ: str) -> dict[str, Any]:
    evaluation = transition.after if after else transition.before
    assert evaluation is not None
    return {r.name: r for r in evaluation.mocks.by_type(typ)}


def check_invariants(transition: Transition, case: Case) -> None:
    replaced = [f"{c.type} {c.name} ({', '.join(c.replaces)})" for c in transition.changes() if c.replaces and c.type in NEVER_REPLACED]
    assert replaced == [], "a running resource would be replaced"
    old, new = by_name(transition, False, SERVER), by_name(transition, True, SERVER)
    for name in old.keys() & new.keys():
        # Hetzner refuses to move a running server into or out of a placement group.
        assert old[name].inputs.get("placementGroupId") == new[name].inputs.get("placementGroupId"), name
    old_keys = {r.inputs["publicKey"]: name for name, r in by_name(transition, False, "hcloud:index/sshKey:SshKey").items()}
    new_keys = {r.inputs["publicKey"]: name for name, r in by_name(transition, True, "hcloud:index/sshKey:SshKey").items()}
    assert {k: old_keys[k] for k in old_keys.keys() & new_keys.keys()} == {k: new_keys[k] for k in old_keys.keys() & new_keys.keys()}
    old_nets, new_nets = by_name(transition, False, "hcloud:index/serverNetwork:ServerNetwork"), by_name(
        transition, True, "hcloud:index/serverNetwork:ServerNetwork")
    for name in old_nets.keys() & new_nets.keys():
        assert old_nets[name].inputs["ip"] == new_nets[name].inputs["ip"], f"{name} would move"
    rerun = {name.rsplit("-", 1)[1] for name in transition.rerun_steps()}
    assert rerun <= case.reruns, f"unexpected host steps run again: {sorted(rerun - case.reruns)}"
    for name, command in by_name(transition, True, COMMAND).items():
        if name.startswith("host-") and name.rsplit("-", 1)[1] in WRAPPED_STEPS:
            assert "render/redacted_step.py" in str(command.inputs["stdin"]), name


def applicable() -> list[tuple[Path, str]]:
    """Every (preset, edit) where the edit changes something and the edited config is valid (CI fails on a
    skipped test, so the others are not generated; test_every_edit_runs_on_some_preset keeps them honest)."""
    pairs = []
    for preset in PRESETS:
        for name, case in CASES.items():
            try:
                edited_config(preset, case.edit, case.base)
            except NotApplicable:
                continue
            pairs.append((preset, name))
    return pairs


APPLICABLE = applicable()


def test_every_edit_runs_on_some_preset() -> None:
    assert {name for _, name in APPLICABLE} == set(CASES)
    assert {preset for preset, _ in APPLICABLE} == set(PRESETS)


@pytest.mark.usefixtures("quiet_refusal")
@pytest.mark.parametrize(("preset", "case_name"), APPLICABLE,
                         ids=[f"{p.name.removeprefix('Pulumi.').removesuffix('.yaml')}-{n}" for p, n in APPLICABLE])
def test_routine_edit(tmp_path: Path, preset: Path, case_name: str) -> None:
    case = CASES[case_name]
    transition = evaluate_transition(tmp_path, preset, case.edit, case.base)
    if case.refused is not None:
        assert transition.refusal is not None and case.refused in transition.refusal, transition.refusal
        return
    assert transition.refusal is None, transition.refusal
    check_invariants(transition, case)


def test_a_resize_down_fits_when_the_disk_was_kept_small(tmp_path: Path) -> None:
    """The server went up with keepDisk earlier: its disk still has the small size, so down is allowed."""
    from tests.growth.transitions import _evaluate
    from tests.stacks import preset_values

    values = preset_values(ROOT / "Pulumi.staging.yaml")  # one cx23 server
    values["servers"]["app"]["serverType"] = "cx33"
    before = _evaluate(tmp_path / "before", values, None)
    previous = copy.deepcopy(before.outputs)
    previous["servers"]["app"]["diskGb"] = 40
    down = copy.deepcopy(values)
    down["servers"]["app"].update(serverType="cx23", keepDisk=True)
    after = _evaluate(tmp_path / "after", down, previous)
    [server] = after.mocks.by_type(SERVER)
    assert server.inputs["serverType"] == "cx23"
    assert any(r.name.endswith("-resize-cx33-to-cx23-stop") for r in after.mocks.by_type(COMMAND))
