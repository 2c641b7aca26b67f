"""Routes of the HTML pages, at huggingface.co's URLs for the three repo types:
`/{repo}`, `/{repo}/tree/{rev}/{path}`, `/{repo}/blob/{rev}/{path}`, `/{repo}/commits/{rev}`, `/{repo}/commit/{sha}`
and `/{repo}/discussions`, where `{repo}` is `org/name`, `datasets/org/name` or `spaces/org/name`.
Pages go through the same access check as the API: a private repo is 404 to strangers.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from hubtools.hub import pages
from hubtools.hub.auth import can_read, caller
from hubtools.hub.spaces import SpacesRuntime
from hubtools.hub.store import DEFAULT_BRANCH, FileEntry, HubStore, Repo, StoreError

ReadableRepo = Callable[[Request, str, str, str], Repo]
RepoAt = Callable[[Request, str, str, str, str], tuple[Repo, str, str, list[str]]]
CardReader = Callable[[HubStore, dict[str, FileEntry]], tuple[dict | None, str]]
PREFIXES = {"dataset": "/datasets", "space": "/spaces", "model": ""}


def page_response(html: str) -> HTMLResponse:
    """An HTML page with its security headers (CSP, nosniff, no framing: see `pages.PAGE_HEADERS`)."""
    return HTMLResponse(html, headers=pages.PAGE_HEADERS)


def add_page_routes(
    app: FastAPI, store: HubStore, readable_repo: ReadableRepo, repo_at: RepoAt, read_card: CardReader,
    spaces: SpacesRuntime,
) -> None:
    def view_at(request: Request, repo_type: str, namespace: str, name: str, marker: str):
        repo, revision, commit_id, segments = repo_at(request, f"{repo_type}s", namespace, name, marker)
        files = store.files(commit_id)
        card, _ = read_card(store, files)
        return pages.RepoView(repo, revision, card or {}), commit_id, files, "/".join(segments)

    def read_blob(entry: FileEntry) -> bytes:
        return store.blob_path(entry.sha256).read_bytes()

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        identity = caller(store, request)
        return page_response(pages.render_index([r for r in store.list_repos() if can_read(identity, r)]))

    def card_page(repo_type: str):
        def page(request: Request, namespace: str, name: str) -> HTMLResponse:
            repo = readable_repo(request, repo_type, namespace, name)
            commit_id = store.resolve(repo, DEFAULT_BRANCH)
            files = store.files(commit_id)
            card, body = read_card(store, files)
            view = pages.RepoView(repo, DEFAULT_BRANCH, card or {})
            space = spaces.page_status(repo) if repo_type == "space" else None
            return page_response(pages.render_repo_page(view, commit_id, body, files, space))

        return page

    def tree_page(repo_type: str):
        def page(request: Request, namespace: str, name: str, rest: str) -> HTMLResponse:
            view, commit_id, files, folder = view_at(request, repo_type, namespace, name, "tree")
            children = pages.tree_children(files, folder)
            if folder and not children:
                raise StoreError(404, f"Folder not found: {folder} at {view.revision} in {view.repo.repo_id}", "EntryNotFound")
            return page_response(pages.render_tree(view, folder, files, store.last_commits(commit_id, children)))

        return page

    def blob_page(repo_type: str):
        def page(request: Request, namespace: str, name: str, rest: str) -> HTMLResponse:
            view, _, files, path = view_at(request, repo_type, namespace, name, "blob")
            entry = files.get(path)
            if entry is None:
                raise StoreError(404, f"Entry not found: {path} at {view.revision} in {view.repo.repo_id}", "EntryNotFound")
            content = read_blob(entry) if entry.size <= pages.MAX_TEXT_BYTES else None
            return page_response(pages.render_blob(view, entry, content))

        return page

    def commits_page(repo_type: str):
        def page(request: Request, namespace: str, name: str, rest: str) -> HTMLResponse:
            view, commit_id, _, _ = view_at(request, repo_type, namespace, name, "commits")
            return page_response(pages.render_commits(view, store.history(commit_id)))

        return page

    def commit_page(repo_type: str):
        def page(request: Request, namespace: str, name: str, rest: str) -> HTMLResponse:
            view, commit_id, files, _ = view_at(request, repo_type, namespace, name, "commit")
            commit = store.commit(commit_id)
            parent_files = store.files(commit.parent) if commit.parent else {}
            changed = sorted(p for p in files.keys() | parent_files.keys() if files.get(p) != parent_files.get(p))
            changes = [pages.file_change(view, p, parent_files.get(p), files.get(p), read_blob) for p in changed]
            return page_response(pages.render_commit(view, commit, changes))

        return page

    def discussions_page(repo_type: str):
        def page(request: Request, namespace: str, name: str) -> HTMLResponse:
            repo = readable_repo(request, repo_type, namespace, name)
            card, _ = read_card(store, store.files(store.resolve(repo, DEFAULT_BRANCH)))
            view = pages.RepoView(repo, DEFAULT_BRANCH, card or {})
            return page_response(pages.render_discussions(view, store.discussions(repo)))

        return page

    for repo_type, prefix in PREFIXES.items():
        base = prefix + "/{namespace}/{name}"
        app.add_api_route(base, card_page(repo_type), methods=["GET"], response_class=HTMLResponse)
        app.add_api_route(base + "/discussions", discussions_page(repo_type), methods=["GET"], response_class=HTMLResponse)
        for marker, route in (("tree", tree_page), ("blob", blob_page), ("commits", commits_page), ("commit", commit_page)):
            app.add_api_route(f"{base}/{marker}/{{rest:path}}", route(repo_type), methods=["GET"], response_class=HTMLResponse)
