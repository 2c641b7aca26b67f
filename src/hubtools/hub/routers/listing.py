"""Reading a repo's content and history: tree (paginated), paths-info, commits (paginated) and refs; files uploaded
through Xet are listed with their `xetHash`."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import html
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hubtools.hub.deps import HubState, ReadableRepo, RepoAt, State, Store, at_revision, base_url, query_flag
from hubtools.hub.errors import EntryNotFound, InvalidRequest
from hubtools.hub.limits import COMMITS_PAGE_SIZE, TREE_EXPAND_PAGE_SIZE, TREE_PAGE_SIZE
from hubtools.hub.markdown import render_card
from hubtools.hub.repo_types import url_prefix
from hubtools.hub.store import FileEntry, HubStore, iso

router = APIRouter()
REF_GROUPS = {"refs/heads/": "branches", "refs/tags/": "tags", "refs/pr/": "pullRequests", "refs/convert/": "converts"}


def file_json(entry: FileEntry) -> dict:
    data: dict = {"type": "file", "oid": entry.blob_id, "size": entry.size, "path": entry.path}
    if entry.is_lfs:
        data["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": len(entry.pointer())}
    return data


def add_xet_hashes(state: HubState, items: list[dict]) -> list[dict]:
    """`xetHash` on the files uploaded through Xet, as huggingface.co lists them (hf_xet downloads by it)."""
    hashes = state.cas.files.hashes_of(item["lfs"]["oid"] for item in items if "lfs" in item)
    for item in items:
        if "lfs" in item and item["lfs"]["oid"] in hashes:
            item["xetHash"] = hashes[item["lfs"]["oid"]]
    return items


def tree_oid(entries: list[FileEntry]) -> str:
    digest = hashlib.sha1()
    for entry in entries:
        digest.update(f"{entry.path}\0{entry.blob_id}\n".encode())
    return digest.hexdigest()


def list_tree(files: dict[str, FileEntry], folder: str, recursive: bool) -> list[dict]:
    """Files and folders below `folder` (direct children unless `recursive`), folders first at each depth."""
    prefix = folder + "/" if folder else ""
    items: list[dict] = []
    folders: dict[str, list[FileEntry]] = {}
    for path, entry in files.items():
        if not path.startswith(prefix):
            continue
        parts = path[len(prefix):].split("/")
        for depth in range(1, len(parts) if recursive else min(2, len(parts))):
            folders.setdefault(prefix + "/".join(parts[:depth]), []).append(entry)
        if recursive or len(parts) == 1:
            items.append(file_json(entry))
    for folder_path, entries in folders.items():
        items.append({"type": "directory", "oid": tree_oid(entries), "size": 0, "path": folder_path})
    items.sort(key=lambda item: (item["path"].count("/"), item["type"] != "directory", item["path"]))
    return items


@functools.lru_cache(maxsize=8)
def tree_items(store: HubStore, commit_id: str, folder: str, recursive: bool, rewrites: int) -> list[dict]:
    """A commit's listing, cached while clients page through it (commits change only when `store.rewrites` does)."""
    return list_tree(store.files(commit_id), folder, recursive)


def paths_info_answer(store: HubStore, commit_id: str, paths: list[str]) -> list[dict]:
    """Each path as a file or a folder, looked up by key (never by reading the commit's whole file list)."""
    answers = []
    for path in paths:
        path = path.strip("/")
        entry = store.file_entry(commit_id, path)
        if entry is not None:
            answers.append(file_json(entry))
        elif below := store.files_below(commit_id, path):
            answers.append({"type": "directory", "oid": tree_oid(below), "size": 0, "path": path})
    return answers


def make_cursor(commit_id: str, offset: int) -> str:
    """Opaque to clients; pins the commit so a listing stays consistent while the branch moves on."""
    return base64.urlsafe_b64encode(f"{commit_id}:{offset}".encode()).decode()


def read_cursor(cursor: str) -> tuple[str, int]:
    try:
        commit_id, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if re.fullmatch(r"[0-9a-f]{40}", commit_id) and offset.isdigit():
            return commit_id, int(offset)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        pass
    raise InvalidRequest(f"Invalid pagination cursor {cursor[:60]!r}: follow the Link header of the previous page")


@router.get("/api/{plural}/{namespace}/{name}/tree/{rest:path}")
def tree(request: Request, at: Annotated[RepoAt, Depends(at_revision("tree"))], state: State) -> JSONResponse:
    """One page of the listing (1000 entries, 50 with `expand`), the next one linked with a cursor as on the Hub."""
    store = state.store
    commit_id, folder = at.commit_id, at.path
    expand = query_flag(request, "expand")
    offset = 0
    if "cursor" in request.query_params:
        commit_id, offset = read_cursor(request.query_params["cursor"])
        store.resolve(at.repo, commit_id)  # the cursor's commit must belong to this repo
    items = tree_items(store, commit_id, folder, query_flag(request, "recursive"), store.rewrites)
    if folder and not items:
        raise EntryNotFound(f"Entry not found: {folder} at {at.revision} in {at.repo.repo_id}")
    page_size = TREE_EXPAND_PAGE_SIZE if expand else TREE_PAGE_SIZE
    page = add_xet_hashes(state, [dict(item) for item in items[offset : offset + page_size]])
    if expand:
        add_last_commits(store, commit_id, page)
    headers = {}
    if offset + page_size < len(items):
        next_url = request.url.include_query_params(cursor=make_cursor(commit_id, offset + page_size))
        headers["Link"] = f'<{next_url}>; rel="next"'
    return JSONResponse(page, headers=headers)


def add_last_commits(store: HubStore, commit_id: str, items: list[dict]) -> None:
    """`expand`: each item gets the last commit that changed it (what `modified` dates and `last_commit` read)."""
    last = store.last_commits(commit_id, [item["path"] for item in items])
    for item in items:
        commit = last[item["path"]]
        item["lastCommit"] = {"id": commit.id, "title": commit.title, "date": iso(commit.date)}


@router.post("/api/{plural}/{namespace}/{name}/paths-info/{rest:path}")
async def paths_info(request: Request, at: Annotated[RepoAt, Depends(at_revision("paths-info"))], state: State) -> JSONResponse:
    form = await request.form()
    paths = [str(path) for path in form.getlist("paths")]
    expand = str(form.get("expand", "")).lower() in ("1", "true")

    def answer() -> list[dict]:
        items = add_xet_hashes(state, paths_info_answer(state.store, at.commit_id, paths))
        if expand:
            add_last_commits(state.store, at.commit_id, items)
        return items

    return JSONResponse(await run_in_threadpool(answer))


@router.get("/api/{plural}/{namespace}/{name}/commits/{rest:path}")
def commits(request: Request, at: Annotated[RepoAt, Depends(at_revision("commits"))], store: Store) -> JSONResponse:
    commit_id = at.commit_id
    if "cursor" in request.query_params:  # the first commit of this page
        commit_id, _ = read_cursor(request.query_params["cursor"])
        store.resolve(at.repo, commit_id)
    history = store.history(commit_id, COMMITS_PAGE_SIZE + 1)
    headers = {}
    if len(history) > COMMITS_PAGE_SIZE:
        next_url = request.url.include_query_params(cursor=make_cursor(history.pop().id, 0))
        headers["Link"] = f'<{next_url}>; rel="next"'
    formatted = "formatted" in request.query_params.getlist("expand[]")
    repo_url = f"{base_url(request)}/{url_prefix(at.repo.type)}{at.repo.repo_id}"
    return JSONResponse(headers=headers, content=[
        {"id": c.id, "title": c.title, "message": c.message, "authors": [{"user": c.author}], "date": iso(c.date),
         "parents": c.parents,
         **({"formatted": {"title": html.escape(c.title), "message": render_card(c.message, repo_url, c.id)}}
            if formatted else {})}
        for c in history
    ])


@router.get("/api/{plural}/{namespace}/{name}/refs")
def refs(request: Request, repo: ReadableRepo, store: Store) -> JSONResponse:
    answer: dict[str, list] = {"branches": [], "converts": [], "tags": [], "pullRequests": []}
    for ref, target in sorted(store.refs(repo).items()):
        for prefix, group in REF_GROUPS.items():
            if ref.startswith(prefix):
                answer[group].append({"name": ref[len(prefix):], "ref": ref, "targetCommit": target})
    if not query_flag(request, "include_prs"):
        del answer["pullRequests"]
    return JSONResponse(answer)
