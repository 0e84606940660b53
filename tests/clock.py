"""The test process's clock settings, for scripts a test runs with an environment of its own.

`scripts/test-clock` shifts the clock with libfaketime (LD_PRELOAD + FAKETIME) and sets TZ. A script
started with a hand-built environment would lose them and run on the real clock while the test computes
ages and day names on the fake one. Passing these on gives the script the clock a real host gives both.
"""

from __future__ import annotations

import os

CLOCK_VARIABLES = ("TZ", "LD_PRELOAD", "FAKETIME", "FAKETIME_NO_CACHE", "FAKETIME_DONT_FAKE_MONOTONIC")


def clock_env() -> dict[str, str]:
    """The clock-related variables of this process that are set (none outside scripts/test-clock)."""
    return {name: os.environ[name] for name in CLOCK_VARIABLES if name in os.environ}
