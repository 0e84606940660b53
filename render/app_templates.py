"""The app step's bash templates (render/templates/app/): settings and functions rendered in, plus the
functions both deploy scripts share (lib.sh: install_file, bootstrap_certificates)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

APP_TEMPLATES = Path(__file__).parent / "templates" / "app"
MARKERS = ("#@@LIB@@", "#@@SETTINGS@@", "#@@FUNCTIONS@@")


def fill_app_template(name: str, settings: Sequence[str], functions: Sequence[str]) -> str:
    text = (APP_TEMPLATES / name).read_text(encoding="utf-8")
    missing = [marker for marker in MARKERS if marker not in text]
    if missing:
        raise ValueError(f"template app/{name} lacks {missing}")
    lib = (APP_TEMPLATES / "lib.sh").read_text(encoding="utf-8").rstrip("\n")
    return text.replace("#@@LIB@@", lib).replace("#@@SETTINGS@@", "\n".join(settings)).replace("#@@FUNCTIONS@@", "\n".join(functions))
