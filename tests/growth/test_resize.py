"""Safe vertical resize: the pure checks, the cost delta, and the guard inside the real program.

The program tests evaluate components.program.run() under Pulumi mocks whose StackReference answers
with the outputs of a previous deployment (tests/growth/support.PreviousDeploymentMocks). Host steps are
left out there (step_sources -> []): they do not touch server types and only slow the evaluation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import pytest

import cli.evaluate
from components import program
from config.catalogue import Catalogue, RetiredType, load_catalogue
from config.loader import validate_config
from cost import resize as cost_resize
from cost.resize import plan_resizes, refusal_message, resize_summary
from spec import resize_checks
from spec.resize_checks import check_resize
from spec.resources import resolve
from tests.growth.support import SERVER_TYPE, PreviousDeploymentMocks, evaluate_with_past, mock_server_id
from tests.stacks import PHASE2, PROD, prod_app_server, variant, write_stack

SNAPSHOT_TYPE = "hcloud:index/snapshot:Snapshot"


# --- pure checks -----------------------------------------------------------------------------------
def test_same_type_and_upgrades_pass() -> None:
    assert check_resize("cx33", "cx33", "nbg1", False) == []
    assert check_resize("cx33", "cx43", "nbg1", False) == []
    assert check_resize("cx23", "cx33", "nbg1", True) == []
    assert check_resize("cx33", "ccx23", "fsn1", False) == []  # shared -> dedicated, same arch, bigger disk


def test_retired_type_is_refused_with_its_replacement() -> None:
    [problem] = check_resize("cx33", "cx42", "nbg1", False)
    assert "'cx42' was retired" in problem and "use 'cx43'" in problem


def test_type_not_sold_in_the_location_is_refused() -> None:
    problems = check_resize("ccx13", "cpx31", "nbg1", False)
    assert any("'cpx31' is not sold in nbg1" in p and "use 'cpx32'" in p for p in problems)
    assert check_resize("ccx13", "cpx31", "ash", False) == []  # the same type is fine in Ashburn


def test_unknown_type_is_refused() -> None:
    [problem] = check_resize("cx33", "cx99", "nbg1", True)
    assert problem.startswith("unknown server type 'cx99'")


def test_disk_shrink_is_refused_whatever_keep_disk_says() -> None:
    # Without a recorded disk size the old type's nominal disk (80 GB) is assumed: cx23 (40 GB) cannot hold it.
    for keep_disk in (False, True):
        [problem] = check_resize("cx33", "cx23", "nbg1", keep_disk)
        assert problem.startswith("disk shrink: its disk is presumably (the cx33 size) 80 GB and cx23 has 40 GB")
        assert "whatever keepDisk says" in problem


def test_downgrade_depends_on_the_current_disk_not_on_keep_disk() -> None:
    # Issue 14: cx33 -> cx23 with keepDisk and the server's real 80 GB disk was let through before.
    [problem] = check_resize("cx33", "cx23", "nbg1", True, current_disk_gb=80)
    assert problem.startswith("disk shrink: its disk is 80 GB and cx23 has 40 GB")
    [grown] = check_resize("cx33", "cx23", "nbg1", True, current_disk_gb=160)
    assert "its disk is 160 GB" in grown
    # Scaled up from cx23 with keepDisk: the disk is still 40 GB, so the way back down is open.
    assert check_resize("cx33", "cx23", "nbg1", True, current_disk_gb=40) == []
    assert check_resize("cx33", "cx23", "nbg1", False, current_disk_gb=40) == []


def test_architecture_change_is_refused_both_ways() -> None:
    [to_arm] = check_resize("cx33", "cax21", "nbg1", False)
    assert to_arm.startswith("architecture change x86 -> arm (cx33 -> cax21)")
    [to_x86] = check_resize("cax21", "cx33", "nbg1", False)
    assert to_x86.startswith("architecture change arm -> x86")


def test_several_problems_are_all_reported() -> None:
    problems = check_resize("cx43", "cax11", "nbg1", False)  # arm, and 40 GB < 160 GB
    assert [p.split(":")[0] for p in problems] == ["architecture change x86 -> arm (cx43 -> cax11)", "disk shrink"]


# --- cost delta ------------------------------------------------------------------------------------
def test_cost_delta_uses_the_new_order_price() -> None:
    # A server ordered in March 2026 pays the p1 price of cx33 (6.49); a rescale in November is a new order
    # at the p2 price of cx43 (15.99): +9.50 a month, +11.40 with backups (20 %).
    summary = resize_summary("cx33", "cx43", "nbg1", backups=True, ordered_on=dt.date(2026, 3, 1),
                             as_of=dt.date(2026, 11, 23), server="app")
    assert (summary.old_epoch, summary.new_epoch) == ("p1", "p2")
    assert (summary.old_monthly_eur, summary.new_monthly_eur) == (Decimal("6.49"), Decimal("15.99"))
    assert summary.delta_eur == Decimal("9.50") and summary.delta_with_backups_eur == Decimal("11.40")
    assert summary.disk_after_gb == 160
    text = summary.text()
    assert "EUR 6.49 (p1) -> EUR 15.99/month net (p2)" in text and "+9.50/month, +11.40 with backups" in text
    assert "update servers.app.orderedOn" in text and "grows to 160 GB for good" in text


def test_cost_delta_before_the_june_2026_epoch_and_with_keep_disk() -> None:
    summary = resize_summary("cx23", "cx33", "nbg1", keep_disk=True, as_of=dt.date(2026, 5, 1))
    assert (summary.old_epoch, summary.new_epoch) == ("p1", "p1")
    assert summary.delta_eur == Decimal("6.49") - Decimal("3.99")
    assert summary.disk_after_gb == 40 and "disk stays at 40 GB" in summary.text()
    down = resize_summary("cx33", "cx23", "nbg1", keep_disk=True, as_of=dt.date(2026, 11, 23))
    assert down.delta_eur == Decimal("5.49") - Decimal("8.49")
    assert "-3.00/month" in down.text()


def test_resize_summary_uses_the_order_date_the_last_deployment_recorded() -> None:
    """Without orderedOn in the stack file, the server's old price comes from the date its outputs
    recorded (p1 for 2026-03-01); the program records the rescale itself, so no 'update orderedOn'."""
    config = validate_config(variant(PROD, servers={"app": {"serverType": "cx43", "backups": True}}))
    specs = {s.name: s for s in resolve(config).servers}
    planned = plan_resizes(specs, {"app": {"type": "cx33", "orderedOn": "2026-03-01", "diskGb": 80}})
    summary = planned["app"].summary
    assert (summary.old_epoch, summary.old_monthly_eur) == ("p1", Decimal("6.49"))
    assert "update servers.app.orderedOn" not in summary.text()


def test_refusal_message_lists_every_server_and_problem() -> None:
    config = validate_config(variant(PHASE2, servers={
        "web": {"serverType": "cax31", "roles": ["web"]},
        "db": {"serverType": "cx23", "roles": ["db"]},
        "worker": {"serverType": "cx33", "roles": ["worker"]},
    }))
    specs = {s.name: s for s in resolve(config).servers}
    planned = plan_resizes(specs, {"web": {"type": "cx43"}, "db": {"type": "cx33"}, "worker": {"type": "cx33"}})
    assert sorted(planned) == ["db", "web"]
    message = refusal_message(planned)
    assert message is not None
    assert message.startswith("Resize guard: refusing to change the server type of db (cx33 -> cx23), web (cx43 -> cax31).")
    assert "servers.db.serverType cx33 -> cx23:\n    - disk shrink" in message
    assert "servers.web.serverType cx43 -> cax31:\n    - architecture change" in message


# --- the guard inside the program ----------------------------------------------------------------
@pytest.fixture
def no_host_steps(monkeypatch: pytest.MonkeyPatch, quiet_refusal: None) -> None:
    monkeypatch.setattr(program, "step_sources", lambda spec: [])


def refused(tmp_path: Path, values: dict[str, Any], previous: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    mocks = PreviousDeploymentMocks(previous)
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: mocks)
    with pytest.raises(pulumi.RunError) as error:
        cli.evaluate.evaluate(write_stack(tmp_path, values))
    # Nothing at all was registered, not only the Server: the read of the last deployment is all.
    assert [r.type for r in mocks.resources] == ["pulumi:pulumi:StackReference"]
    return str(error.value), mocks


@pytest.mark.usefixtures("no_host_steps")
def test_guard_reads_the_stacks_own_last_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluation, mocks = evaluate_with_past(tmp_path, prod_app_server(serverType="cx43"), {"app": {"type": "cx33"}}, monkeypatch)
    assert mocks.stack_references == ["test"]  # one read of the stack's own last outputs
    [server] = evaluation.mocks.by_type(SERVER_TYPE)
    assert server.inputs["serverType"] == "cx43"
    # Not a cloud resource: the plan's resource list does not show the read.
    assert all(r.type != "pulumi:pulumi:StackReference" for r in evaluation.resources)


@pytest.mark.usefixtures("no_host_steps")
def test_first_deploy_has_no_past_and_no_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluation, mocks = evaluate_with_past(tmp_path, prod_app_server(serverType="cax21", snapshotBeforeResize=True), None, monkeypatch)
    [server] = evaluation.mocks.by_type(SERVER_TYPE)
    assert server.inputs["serverType"] == "cax21"
    assert evaluation.mocks.by_type(SNAPSHOT_TYPE) == [] and mocks.server_lookups == []


def catalogue_where(change: str) -> Catalogue:
    """The real catalogue, except that cx43 was retired (replacement cx53) or is sold only in the US.

    Config validation reads the real catalogue and accepts cx43; only the guard sees the change. This is
    how the guard is shown to refuse on its own: with one catalogue, validation refuses these types in the
    same run before the guard is reached (the guard is the second line of defence).
    """
    real = load_catalogue()
    if change == "retired":
        server_types = {name: t for name, t in real.server_types.items() if name != "cx43"}
        retired = {**real.retired, "cx43": RetiredType("cx43", "2026-11-01", "2027-01", "cx53")}
        return dataclasses.replace(real, server_types=server_types, retired=retired)
    us_only = dataclasses.replace(real.server_types["cx43"], regions=("us-east", "us-west"))
    return dataclasses.replace(real, server_types={**real.server_types, "cx43": us_only})


def use_catalogue(monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue) -> None:
    for module in (resize_checks, cost_resize):  # the check and the price delta read the same catalogue
        monkeypatch.setattr(module, "load_catalogue", lambda: catalogue)


@pytest.mark.usefixtures("no_host_steps")
def test_refused_retired_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_catalogue(monkeypatch, catalogue_where("retired"))
    message, mocks = refused(tmp_path, prod_app_server(serverType="cx43"), {"app": {"type": "cx33"}}, monkeypatch)
    assert "servers.app.serverType cx33 -> cx43:\n    - 'cx43' was retired" in message
    assert "use 'cx53'" in message
    assert mocks.by_type(SERVER_TYPE) == []


@pytest.mark.usefixtures("no_host_steps")
def test_refused_type_not_sold_in_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_catalogue(monkeypatch, catalogue_where("us-only"))
    message, mocks = refused(tmp_path, prod_app_server(serverType="cx43"), {"app": {"type": "cx33"}}, monkeypatch)
    assert "servers.app.serverType cx33 -> cx43:\n    - 'cx43' is not sold in nbg1 (only in ash, hil)" in message
    assert mocks.by_type(SERVER_TYPE) == []


@pytest.mark.usefixtures("no_host_steps")
def test_refused_disk_shrink_without_keep_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message, mocks = refused(tmp_path, prod_app_server(serverType="cx23"), {"app": {"type": "cx33"}}, monkeypatch)
    assert message.startswith("Resize guard: refusing to change the server type of app (cx33 -> cx23). No server was changed.")
    assert "disk shrink: its disk is presumably (the cx33 size) 80 GB and cx23 has 40 GB" in message
    # The Server was never registered: Pulumi can neither update nor replace it.
    assert mocks.by_type(SERVER_TYPE) == []


@pytest.mark.usefixtures("no_host_steps")
def test_refused_architecture_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message, mocks = refused(tmp_path, prod_app_server(serverType="cax21"), {"app": {"type": "cx33"}}, monkeypatch)
    assert "servers.app.serverType cx33 -> cax21:\n    - architecture change x86 -> arm" in message
    assert mocks.by_type(SERVER_TYPE) == [] and mocks.by_type(SNAPSHOT_TYPE) == []


@pytest.mark.usefixtures("no_host_steps")
def test_every_refused_server_is_listed_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = variant(PHASE2, servers={
        "web": {"serverType": "cax31", "roles": ["web"]},
        "db": {"serverType": "cx23", "roles": ["db"]},
        "worker": {"serverType": "cx33", "roles": ["worker"]},
    })
    previous = {"web": {"type": "cx43"}, "db": {"type": "cx33"}, "worker": {"type": "cx33"}}
    message, mocks = refused(tmp_path, values, previous, monkeypatch)
    assert "of db (cx33 -> cx23), web (cx43 -> cax31)" in message
    assert "servers.db.serverType" in message and "servers.web.serverType" in message
    assert mocks.stack_references == ["test"]  # one read for the whole stack
    assert mocks.by_type(SERVER_TYPE) == []


@pytest.mark.usefixtures("no_host_steps")
def test_allowed_resize_with_snapshot_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    values = prod_app_server(serverType="cx43", snapshotBeforeResize=True)
    evaluation, mocks = evaluate_with_past(tmp_path, values, {"app": {"type": "cx33"}}, monkeypatch)
    [server] = evaluation.mocks.by_type(SERVER_TYPE)
    [snapshot] = evaluation.mocks.by_type(SNAPSHOT_TYPE)
    assert server.inputs["serverType"] == "cx43"
    assert snapshot.name == "chrono-prod-app-before-cx33-to-cx43"
    # The snapshot is of the existing server, found by name (the Server itself waits for the snapshot).
    assert mocks.server_lookups == ["chrono-prod-app"]
    assert int(snapshot.inputs["serverId"]) == mock_server_id("chrono-prod-app") == int(server.id)
    assert snapshot.inputs["labels"]["purpose"] == "before-resize"
    # Registration order: the snapshot exists before the Server is registered (depends_on).
    order = [r.type for r in evaluation.mocks.resources]
    assert order.index(SNAPSHOT_TYPE) < order.index(SERVER_TYPE)
    assert any("resize app: cx33 -> cx43 in nbg1" in record.getMessage() for record in caplog.records)


@pytest.mark.usefixtures("no_host_steps")
def test_downgrade_with_keep_disk_goes_ahead_without_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server went cx23 -> cx33 with keepDisk earlier, so its disk is still 40 GB.
    previous = {"app": {"type": "cx33", "diskGb": 40}}
    evaluation, mocks = evaluate_with_past(tmp_path, prod_app_server(serverType="cx23", keepDisk=True), previous, monkeypatch)
    [server] = evaluation.mocks.by_type(SERVER_TYPE)
    assert server.inputs["serverType"] == "cx23" and server.inputs["keepDisk"] is True
    assert evaluation.mocks.by_type(SNAPSHOT_TYPE) == [] and mocks.server_lookups == []


@pytest.mark.usefixtures("no_host_steps")
def test_downgrade_with_keep_disk_of_a_full_size_disk_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = {"app": {"type": "cx33", "diskGb": 80}}
    message, mocks = refused(tmp_path, prod_app_server(serverType="cx23", keepDisk=True), previous, monkeypatch)
    assert "servers.app.serverType cx33 -> cx23:\n    - disk shrink: its disk is 80 GB and cx23 has 40 GB" in message
    assert mocks.by_type(SERVER_TYPE) == []
