"""A structural check of the Mermaid flowcharts cli/diagram.py writes (no browser, no mermaid-cli).

It accepts the subset the diagram uses and is strict about it: optional YAML front matter with a title,
`flowchart <dir>`, `subgraph ID["label"]` ... `end` (balanced), node declarations with one of the
flowchart shapes and a quoted label, and edges between declared ids with an optional quoted label.
Anything else is reported as a problem with its line number.
"""

from __future__ import annotations

import re

import yaml

ID = r"[A-Za-z_][A-Za-z0-9_]*"
LABEL = r'"[^"]*"'
SHAPES = [  # (open, close) around a quoted label, longest first
    (r"\(\[", r"\]\)"), (r"\[\(", r"\)\]"), (r"\(\(", r"\)\)"), (r"\{\{", r"\}\}"), (r"\[\[", r"\]\]"),
    (r"\[", r"\]"), (r"\(", r"\)"), (r"\{", r"\}"), (r">", r"\]"),
]
NODE_RE = [re.compile(rf"^(?P<id>{ID}){open_}(?P<label>{LABEL}){close}$") for open_, close in SHAPES]
SUBGRAPH_RE = re.compile(rf"^subgraph (?P<id>{ID})(\[(?P<label>{LABEL})\])?$")
ARROW = r"(?:-->|---|-\.->|-\.-|==>)"
EDGE_RE = re.compile(rf"^(?P<src>{ID}) (?P<arrow>{ARROW})(\|(?P<label>{LABEL})\|)? (?P<dst>{ID})$")
HEADER_RE = re.compile(r"^flowchart (LR|RL|TB|TD|BT)$")
KEYWORDS = {"end", "subgraph", "graph", "flowchart", "style", "class", "classDef", "click", "linkStyle", "direction", "default"}


def check_flowchart(text: str) -> list[str]:
    problems: list[str] = []
    lines = text.splitlines()
    index = 0
    if lines and lines[0] == "---":
        try:
            closing = lines.index("---", 1)
        except ValueError:
            return ["front matter is not closed with ---"]
        try:
            front = yaml.safe_load("\n".join(lines[1:closing]))
        except yaml.YAMLError as exc:
            return [f"front matter is not valid YAML: {exc}"]
        if not isinstance(front, dict) or not isinstance(front.get("title"), str):
            problems.append("front matter must be a mapping with a string title")
        index = closing + 1
    if index >= len(lines) or not HEADER_RE.match(lines[index]):
        return [*problems, f"line {index + 1}: expected 'flowchart <direction>'"]

    declared: set[str] = set()
    edges: list[tuple[int, str, str]] = []
    stack: list[str] = []
    for number, raw in enumerate(lines[index + 1:], start=index + 2):
        statement = raw.strip()
        if not statement or statement.startswith("%%"):
            continue
        if statement == "end":
            if not stack:
                problems.append(f"line {number}: 'end' without a subgraph")
            else:
                stack.pop()
            continue
        if statement.startswith("direction "):
            if not stack or statement.split()[1] not in ("LR", "RL", "TB", "TD", "BT"):
                problems.append(f"line {number}: bad direction statement")
            continue
        match = SUBGRAPH_RE.match(statement)
        if match:
            _declare(match.group("id"), number, declared, problems)
            stack.append(match.group("id"))
            continue
        edge = EDGE_RE.match(statement)
        if edge:
            edges.append((number, edge.group("src"), edge.group("dst")))
            continue
        node = next((m for m in (regex.match(statement) for regex in NODE_RE) if m), None)
        if node:
            _declare(node.group("id"), number, declared, problems)
            continue
        problems.append(f"line {number}: not a statement this check knows: {statement!r}")
    if stack:
        problems.append(f"subgraphs not closed: {', '.join(stack)}")
    for number, src, dst in edges:
        for end in (src, dst):
            if end not in declared:
                problems.append(f"line {number}: edge refers to undeclared id '{end}'")
    return problems


def _declare(identifier: str, number: int, declared: set[str], problems: list[str]) -> None:
    if identifier in KEYWORDS:
        problems.append(f"line {number}: '{identifier}' is a Mermaid keyword, not an id")
    if identifier in declared:
        problems.append(f"line {number}: id '{identifier}' declared twice")
    declared.add(identifier)


def nodes_and_edges(text: str) -> tuple[dict[str, str], set[tuple[str, str, str]], dict[str, str | None]]:
    """(node id -> label, {(src, arrow, dst)}, node or subgraph id -> enclosing subgraph id)."""
    labels: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()
    parent: dict[str, str | None] = {}
    stack: list[str] = []
    for raw in text.splitlines():
        statement = raw.strip()
        if statement == "end" and stack:
            stack.pop()
            continue
        match = SUBGRAPH_RE.match(statement)
        if match:
            parent[match.group("id")] = stack[-1] if stack else None
            labels[match.group("id")] = (match.group("label") or "").strip('"')
            stack.append(match.group("id"))
            continue
        edge = EDGE_RE.match(statement)
        if edge:
            edges.add((edge.group("src"), edge.group("arrow"), edge.group("dst")))
            continue
        node = next((m for m in (regex.match(statement) for regex in NODE_RE) if m), None)
        if node:
            labels[node.group("id")] = node.group("label").strip('"')
            parent[node.group("id")] = stack[-1] if stack else None
    return labels, edges, parent
