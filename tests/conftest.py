"""Suite-wide rule: under CI=true nothing may skip, and every suite must have run."""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tests.prerequisites import UNDER_CI

EXPECTED_SUITES = ("render", "e2e", "ops", "cost")
_passed_by_marker: Counter[str] = Counter()


# The in-process plan reads these (live prices, the Cloudflare provider); no test may use a real one.
PROVIDER_TOKENS = ("HCLOUD_TOKEN", "HCLOUD_ENDPOINT", "CLOUDFLARE_API_TOKEN", "PULUMI_ACCESS_TOKEN")


@pytest.fixture(autouse=True)
def no_provider_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROVIDER_TOKENS:
        monkeypatch.delenv(name, raising=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        # A skipped validator proves nothing: in CI it counts as a failure.
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"
    if report.when == "call" and report.passed:
        for marker in EXPECTED_SUITES:
            if item.get_closest_marker(marker):
                _passed_by_marker[marker] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Only a full run (no paths, no -m/-k selection, as .ci/run does) must cover every suite.
    option = session.config.option
    selected_all = (
        list(session.config.args) == list(session.config.getini("testpaths"))
        and not option.markexpr
        and not option.keyword
        and session.testscollected > 0
    )
    if UNDER_CI and selected_all:
        missing = [marker for marker in EXPECTED_SUITES if _passed_by_marker[marker] == 0]
        if missing:
            print(f"\nCI: these suites ran no passing test: {', '.join(missing)}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def quiet_refusal() -> Iterator[None]:
    """For tests of a refused run: every resource waiting for the guard fails with the same RunError, and
    asyncio logs each unobserved future when it is collected (thousands of lines at exit). Pulumi's
    language host silences the asyncio logger for user programs for this reason, so a user sees the
    RunError once; these tests do the same."""
    asyncio_logger = logging.getLogger("asyncio")
    level = asyncio_logger.level
    asyncio_logger.setLevel(logging.CRITICAL)
    yield
    gc.collect()
    asyncio_logger.setLevel(level)
