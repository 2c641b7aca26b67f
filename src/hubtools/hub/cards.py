"""Repo cards: the YAML front matter of README.md, read for repo info and pages, and checked by `validate-yaml`
(parsed within parsing.py's nesting and alias budgets: a stranger's README cannot expand into gigabytes)."""

from __future__ import annotations

import re

import yaml

from hubtools.hub.licenses import LICENSES
from hubtools.hub.parsing import load_yaml
from hubtools.hub.store import FileEntry, HubStore

FRONT_MATTER = re.compile(r"^\s*---\s*\n(.*?)\n---\s*(?:\n|$)", re.DOTALL)
MAX_README_BYTES = 5 * 1024 * 1024


def read_card_data(store: HubStore, files: dict[str, FileEntry]) -> tuple[dict | None, str]:
    """YAML front matter of README.md (None when absent or invalid) and the README body."""
    readme = files.get("README.md")
    if readme is None or readme.size > MAX_README_BYTES:
        return None, ""
    text = store.blob_path(readme.sha256).read_text(encoding="utf-8", errors="replace")
    return split_front_matter(text)


def split_front_matter(text: str) -> tuple[dict | None, str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return None, text
    try:
        data = load_yaml(match.group(1))
    except yaml.YAMLError:
        return None, text[match.end():]
    return (data if isinstance(data, dict) else None), text[match.end():]


def front_matter_problems(content: object) -> tuple[list[dict], list[dict]]:
    """The `validate-yaml` answer as (errors, warnings): errors for YAML that is not a mapping, a warning when empty."""
    if not isinstance(content, str):
        return [{"message": "'content' must be a string"}], []
    match = FRONT_MATTER.match(content)
    try:
        data = load_yaml(match.group(1)) if match else None
    except yaml.YAMLError as exc:
        return [{"message": f"Invalid YAML in README front matter: {exc}"}], []
    if data is not None and not isinstance(data, dict):
        return [{"message": "README front matter must be a YAML mapping"}], []
    model_index = (data or {}).get("model-index")
    if model_index is not None and not (isinstance(model_index, list) and all(isinstance(m, dict) for m in model_index)):
        return [{"message": '"model-index" must be an array of results, as in https://huggingface.co/docs/hub/model-cards'}], []
    license_problem = _license_problem((data or {}).get("license"))
    if license_problem:
        return [{"message": license_problem}], []
    return [], [] if data else [{"message": "empty or missing yaml metadata in repo card"}]


def _license_problem(value: object) -> str | None:
    """huggingface.co's refusal of a `license:` that is not one of its identifiers (or a list of them)."""
    values = value if isinstance(value, list) else [value]
    if value is None or all(isinstance(v, str) and v in LICENSES for v in values):
        return None
    return f'"license" must be one of [{", ".join(sorted(LICENSES))}], as in https://huggingface.co/docs/hub/repositories-licenses'
