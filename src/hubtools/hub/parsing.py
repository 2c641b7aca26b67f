"""Bounded parsing of the JSON and YAML strangers send: nesting depth and YAML alias expansion are checked before
anything is built, so a small document can neither exhaust the stack (a 500) nor expand into gigabytes.

JSON nesting is measured on the raw text (strings skipped) before `json.loads`, which recurses per level. YAML is
scanned as an event stream (PyYAML's parser is iterative) before it is composed; an alias counts as the whole
node it names, so "billion laughs" documents are refused after a few hundred bytes of input.
"""

from __future__ import annotations

import json
import re

import yaml

from hubtools.hub.limits import MAX_NESTING_DEPTH, MAX_YAML_ALIAS_NODES
from hubtools.hub.errors import InvalidRequest

JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")
INNERMOST_PAIRS = re.compile(rb"\[\]|\{\}")


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays/objects more than `limit` deep (brackets inside strings do not count):
    each pass removes the innermost pairs, so `limit` passes over the brackets alone decide it."""
    brackets = NOT_A_BRACKET.sub(b"", JSON_STRING.sub(b"", raw))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = INNERMOST_PAIRS.sub(b"", brackets)
    return bool(brackets)


def loads_json(raw: bytes | str, what: str) -> object:
    """`json.loads` refusing (400) text that is not JSON or nests deeper than MAX_NESTING_DEPTH."""
    data = raw.encode() if isinstance(raw, str) else raw
    if nests_deeper_than(data, MAX_NESTING_DEPTH):
        raise InvalidRequest(f"{what} nests deeper than {MAX_NESTING_DEPTH} levels (or its brackets do not match)", "InvalidJson")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidRequest(f"{what} must be JSON: {exc}", "InvalidJson") from None


class YamlTooLarge(yaml.YAMLError):
    """A YAML document nesting too deep or expanding (through aliases) to too many nodes."""


def check_yaml_size(text: str) -> None:
    """Raise YamlTooLarge when `text` nests deeper than MAX_NESTING_DEPTH or its aliases stand for more than
    MAX_YAML_ALIAS_NODES nodes in all (each alias counts the expanded size of the node it names)."""
    anchored: dict[str, int] = {}  # expanded size of each anchored node
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, nodes before it) of each open collection
    nodes = aliased = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_NESTING_DEPTH:
                raise YamlTooLarge(f"YAML nests deeper than {MAX_NESTING_DEPTH} levels")
            open_nodes.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start = open_nodes.pop()
            if anchor is not None:
                anchored[anchor] = nodes - start
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            size = anchored.get(event.anchor, 1)
            nodes += size
            aliased += size
            if aliased > MAX_YAML_ALIAS_NODES:
                raise YamlTooLarge(f"YAML aliases expand to more than {MAX_YAML_ALIAS_NODES} nodes: write the values out")


def load_yaml(text: str) -> object:
    """`yaml.safe_load` after `check_yaml_size`; raises yaml.YAMLError (YamlTooLarge included) for bad input."""
    check_yaml_size(text)
    return yaml.safe_load(text)
