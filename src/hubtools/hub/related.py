"""Repos that name another in their card: "Spaces using this model" (a Space's `models:`) and "Models trained on
this dataset" (a model's `datasets:`), as huggingface.co lists them beside a card. Only repos the caller may read."""

from __future__ import annotations

from hubtools.hub.auth import can_read
from hubtools.hub.cards import read_card_data
from hubtools.hub.store import DEFAULT_BRANCH, HubStore, Identity, Repo

CITING_KEY = {"model": ("space", "models"), "dataset": ("model", "datasets")}


def _names(value: object) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value]) if isinstance(item, str)]


def repos_citing(store: HubStore, identity: Identity | None, repo: Repo) -> list[Repo]:
    """The readable repos whose card on main lists `repo` (Spaces for a model, models for a dataset)."""
    if repo.type not in CITING_KEY:
        return []
    citing_type, key = CITING_KEY[repo.type]
    found = []
    for candidate in store.list_repos():
        if candidate.type != citing_type or not can_read(identity, candidate):
            continue
        readme = store.file_entry(store.resolve(candidate, DEFAULT_BRANCH), "README.md")  # by key, not the whole listing
        card, _ = read_card_data(store, {"README.md": readme} if readme else {})
        if card and repo.repo_id in _names(card.get(key)):
            found.append(candidate)
    return found
