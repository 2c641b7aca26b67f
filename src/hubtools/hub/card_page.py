"""A repo's card page at main, with what its routes add: shared by the GET page and the widget's POST."""

from __future__ import annotations

from hubtools.hub import pages
from hubtools.hub.cards import read_card_data
from hubtools.hub.deps import HubState
from hubtools.hub.repo_extras import repo_extras
from hubtools.hub.store import DEFAULT_BRANCH, Identity, Repo
from hubtools.hub.widget import WidgetRun


def repo_page_html(state: HubState, identity: Identity | None, repo: Repo, run: WidgetRun | None = None) -> str:
    """The card page at main; `run`: what the inference widget computed for this request."""
    commit_id = state.store.resolve(repo, DEFAULT_BRANCH)
    files = state.store.files(commit_id)
    card, body = read_card_data(state.store, files)
    view = pages.RepoView(repo, DEFAULT_BRANCH, card or {})
    space = state.spaces.page_status(repo) if repo.type == "space" else None
    extras = repo_extras(state.store, identity, repo, files, card or {}, run)
    return pages.render_repo_page(view, commit_id, body, files, space, extras)
