"""The README's configuration reference is generated from the schema and must stay in sync."""

from __future__ import annotations

from cli.config_reference import END, README, START, generate


def test_readme_reference_matches_schema() -> None:
    text = README.read_text(encoding="utf-8")
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == generate(), "README configuration reference is stale: run python -m cli.config_reference --write"
