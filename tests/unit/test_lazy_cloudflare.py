"""Stacks without DNS must never pay the ~4 s import of pulumi_cloudflare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from cli.plan import load, build_plan
from pathlib import Path
stack, config = load(Path(sys.argv[1]))
build_plan(stack, config)
print("cloudflare-imported" if "pulumi_cloudflare" in sys.modules else "cloudflare-not-imported")
"""


def probe(stack_file: str) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE, stack_file], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_staging_never_imports_cloudflare() -> None:
    assert probe("Pulumi.staging.yaml") == "cloudflare-not-imported"


def test_prod_with_dns_does_import_cloudflare() -> None:
    # The control case: proves the probe can see the import at all.
    assert probe("Pulumi.prod.yaml") == "cloudflare-imported"
