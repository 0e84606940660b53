"""A YAML reader for files the platform trusts with a server: stack files and a user's compose file.

PyYAML's safe loader already refuses Python tags. On top of that this loader refuses
- a key written twice in one mapping (PyYAML silently keeps the last one: an enforced budget could
  disappear under a second `budget:`);
- documents whose aliases expand to more than MAX_NODES nodes (an alias bomb of a few KB expands to
  hundreds of MB once dumped), nest deeper than MAX_DEPTH, or refer to themselves;
- files larger than MAX_BYTES.
An unquoted timestamp (`orderedOn: 2026-12-04`) stays the text that was written, as Pulumi hands it to
the program: the schema's date fields parse it and name the field when it is not a real day
(2026-13-04), where PyYAML would raise its own ValueError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64


class YamlRefused(ValueError):
    """The document is valid YAML but not one the platform reads (duplicate key, alias bomb, too big).
    `path` is the dotted key path where it was found ("" for the whole document)."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.path = path


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


class _StrictLoader(yaml.SafeLoader):
    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), 0, "")
        return self.construct_document(node)


def _timestamp_as_text(loader: yaml.SafeLoader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _children(node: Node, path: str) -> list[tuple[Node, str]]:
    """A node's children with their key paths; refuses a scalar key written twice in one mapping."""
    if isinstance(node, SequenceNode):
        return [(child, f"{path}[{index}]") for index, child in enumerate(node.value)]
    if not isinstance(node, MappingNode):
        assert isinstance(node, ScalarNode)
        return []
    children: list[tuple[Node, str]] = []
    seen: dict[str, Node] = {}
    for key_node, value_node in node.value:
        name = key_node.value if isinstance(key_node, ScalarNode) else "?"
        child_path = f"{path}.{name}" if path else name
        if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if name in seen:
                raise YamlRefused(
                    f"written twice ({_where(seen[name])} and {_where(key_node)}); YAML would silently keep only the last one",
                    child_path,
                )
            seen[name] = key_node
        children += [(key_node, child_path), (value_node, child_path)]
    return children


def _expanded_size(node: Node, sizes: dict[int, int], open_nodes: set[int], depth: int, path: str) -> int:
    """Nodes after alias expansion (shared nodes counted once per use), refusing duplicate keys, cycles and
    deep nesting."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise YamlRefused(f"an alias refers to the node that contains it ({_where(node)})", path)
    if depth > MAX_DEPTH:
        raise YamlRefused(f"nesting deeper than {MAX_DEPTH} levels ({_where(node)})", path)
    open_nodes.add(key)
    total = 1
    for child, child_path in _children(node, path):
        total += _expanded_size(child, sizes, open_nodes, depth + 1, child_path)
        if total > MAX_NODES:
            raise YamlRefused(
                f"the document expands to more than {MAX_NODES} nodes (aliases repeat nodes; {_where(node)})", path
            )
    open_nodes.discard(key)
    sizes[key] = total
    return total


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document; raises yaml.YAMLError or YamlRefused."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlRefused(f"larger than {MAX_BYTES // 1024} KiB")
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except RecursionError:
        raise YamlRefused(f"nesting deeper than {MAX_DEPTH} levels") from None


def load_yaml_file(path: Path) -> Any:
    """Read and parse a file; raises OSError, UnicodeDecodeError, yaml.YAMLError or YamlRefused."""
    if path.stat().st_size > MAX_BYTES:
        raise YamlRefused(f"larger than {MAX_BYTES // 1024} KiB")
    return load_yaml_text(path.read_text(encoding="utf-8"))
