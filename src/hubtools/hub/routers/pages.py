"""Routes of the HTML pages, at huggingface.co's URLs for the three repo types:
`/{repo}`, `/{repo}/tree/{rev}/{path}`, `/{repo}/blob/{rev}/{path}`, `/{repo}/commits/{rev}`, `/{repo}/commit/{sha}`
and `/{repo}/discussions`, where `{repo}` is `org/name`, `datasets/org/name` or `spaces/org/name`.
Pages go through the same access check as the API: a private repo is 404 to strangers.
"""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from hubtools.hub import pages
from hubtools.hub.auth import can_read
from hubtools.hub.card_page import repo_page_html
from hubtools.hub.cards import read_card_data
from hubtools.hub.deps import Caller, ReadableRepo, RepoAt, State, Store, at_revision
from hubtools.hub.errors import EntryNotFound
from hubtools.hub.repo_types import ROUTE_PREFIXES
from hubtools.hub.store import DEFAULT_BRANCH, FileEntry, HubStore

router = APIRouter()


def view_at(store: HubStore, at: RepoAt) -> tuple[pages.RepoView, dict[str, FileEntry]]:
    files = store.files(at.commit_id)
    card, _ = read_card_data(store, files)
    return pages.RepoView(at.repo, at.revision, card or {}), files


def read_blob(store: HubStore, entry: FileEntry) -> bytes:
    return store.blob_path(entry.sha256).read_bytes()


@router.get("/", response_class=HTMLResponse)
def index(identity: Caller, store: Store) -> HTMLResponse:
    return pages.page_response(pages.render_index([r for r in store.list_repos() if can_read(identity, r)]))


def card_page(repo: ReadableRepo, state: State, identity: Caller) -> HTMLResponse:
    return pages.page_response(repo_page_html(state, identity, repo))


def tree_page(at: Annotated[RepoAt, Depends(at_revision("tree"))], store: Store) -> HTMLResponse:
    view, files = view_at(store, at)
    children = pages.tree_children(files, at.path)
    if at.path and not children:
        raise EntryNotFound(f"Folder not found: {at.path} at {at.revision} in {at.repo.repo_id}")
    folder_commit = store.last_commits(at.commit_id, [at.path])[at.path] if at.path else store.commit(at.commit_id)
    return pages.page_response(pages.render_tree(view, at.path, files, store.last_commits(at.commit_id, children), folder_commit))


def blob_page(at: Annotated[RepoAt, Depends(at_revision("blob"))], store: Store) -> HTMLResponse:
    view, files = view_at(store, at)
    entry = files.get(at.path)
    if entry is None:
        raise EntryNotFound(f"Entry not found: {at.path} at {at.revision} in {at.repo.repo_id}")
    content = read_blob(store, entry) if entry.size <= pages.MAX_TEXT_BYTES else None
    return pages.page_response(pages.render_blob(view, entry, content))


def commits_page(at: Annotated[RepoAt, Depends(at_revision("commits"))], store: Store) -> HTMLResponse:
    view, _ = view_at(store, at)
    history = store.path_history(at.commit_id, at.path) if at.path else store.history(at.commit_id)
    return pages.page_response(pages.render_commits(view, history, at.path))


def commit_page(at: Annotated[RepoAt, Depends(at_revision("commit"))], store: Store) -> HTMLResponse:
    view, files = view_at(store, at)
    commit = store.commit(at.commit_id)
    parent_files = store.files(commit.parent) if commit.parent else {}
    changed = sorted(p for p in files.keys() | parent_files.keys() if files.get(p) != parent_files.get(p))
    changes = [pages.file_change(view, p, parent_files.get(p), files.get(p), functools.partial(read_blob, store)) for p in changed]
    return pages.page_response(pages.render_commit(view, commit, changes))


def discussions_page(repo: ReadableRepo, store: Store) -> HTMLResponse:
    card, _ = read_card_data(store, store.files(store.resolve(repo, DEFAULT_BRANCH)))
    view = pages.RepoView(repo, DEFAULT_BRANCH, card or {})
    return pages.page_response(pages.render_discussions(view, store.discussions(repo)))


for _prefix in ROUTE_PREFIXES:  # `/{namespace}/{name}` matches widely: this router is included last
    _base = _prefix + "/{namespace}/{name}"
    router.add_api_route(_base, card_page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(_base + "/discussions", discussions_page, methods=["GET"], response_class=HTMLResponse)
    for _marker, _page in (("tree", tree_page), ("blob", blob_page), ("commits", commits_page), ("commit", commit_page)):
        router.add_api_route(f"{_base}/{_marker}/{{rest:path}}", _page, methods=["GET"], response_class=HTMLResponse)
