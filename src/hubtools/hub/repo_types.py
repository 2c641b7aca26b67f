"""The one table of repo types and how URLs name them: `/api/{plural}/...` and `/{url_prefix}{namespace}/{name}`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepoType:
    name: str  # as huggingface_hub's `repo_type` says it
    plural: str  # the `/api/{plural}/` segment
    url_prefix: str  # before `namespace/name` in page, resolve and LFS URLs


TABLE = (RepoType("model", "models", ""), RepoType("dataset", "datasets", "datasets/"), RepoType("space", "spaces", "spaces/"))
REPO_TYPES = tuple(kind.name for kind in TABLE)
_BY_NAME = {kind.name: kind for kind in TABLE}
_BY_PLURAL = {kind.plural: kind for kind in TABLE}


def from_plural(plural: str) -> str | None:
    """`datasets` -> `dataset`; None for anything else than the three plurals."""
    kind = _BY_PLURAL.get(plural)
    return kind.name if kind else None


def url_prefix(repo_type: str) -> str:
    """`""`, `"datasets/"` or `"spaces/"`: what comes before `namespace/name` in the repo's URLs."""
    return _BY_NAME[repo_type].url_prefix


def from_url(path: str) -> str:
    """The type of the repo a non-API URL names: `/datasets/...`, `/spaces/...`, else a model."""
    first = path.lstrip("/").split("/", 1)[0]
    kind = _BY_PLURAL.get(first)
    return kind.name if kind and kind.url_prefix else "model"


# Prefixes of the non-API routes of each type (`/datasets/{namespace}/{name}/...`), the bare model prefix last.
ROUTE_PREFIXES = tuple("/" + kind.url_prefix.rstrip("/") for kind in TABLE if kind.url_prefix) + ("",)
