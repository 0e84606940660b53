"""A YAML reader for files the platform trusts with a server: stack files and a user's compose file.

PyYAML's safe loader already refuses Python tags. On top of that this loader refuses
- a key written twice in one mapping (PyYAML silently keeps the last one: an enforced budget could
  disappear under a second `budget:`);
- documents whose aliases expand to more than MAX_NODES nodes (an alias bomb of a few KB expands to
  hundreds of MB once dumped), nest deeper than MAX_DEPTH, or refer to themselves;
- files larger than MAX_BYTES.
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
    """The document is valid YAML but not one the platform reads (duplicate key, alias bomb, too big)."""


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML reports it below
                    continue
                if earlier is not None:
                    raise YamlRefused(
                        f"key {key!r} appears twice in one mapping ({_where(earlier)} and {_where(key_node)}); "
                        "YAML would silently keep only the last one"
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), 0)
        return self.construct_document(node)


def _expanded_size(node: Node, sizes: dict[int, int], open_nodes: set[int], depth: int) -> int:
    """Nodes after alias expansion (shared nodes counted once per use), refusing cycles and deep nesting."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise YamlRefused(f"an alias refers to the node that contains it ({_where(node)})")
    if depth > MAX_DEPTH:
        raise YamlRefused(f"nesting deeper than {MAX_DEPTH} levels ({_where(node)})")
    open_nodes.add(key)
    total = 1
    if isinstance(node, SequenceNode):
        children: list[Node] = list(node.value)
    elif isinstance(node, MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        assert isinstance(node, ScalarNode)
        children = []
    for child in children:
        total += _expanded_size(child, sizes, open_nodes, depth + 1)
        if total > MAX_NODES:
            raise YamlRefused(
                f"the document expands to more than {MAX_NODES} nodes (aliases repeat nodes; {_where(node)})"
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
