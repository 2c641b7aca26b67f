"""HTTP routes of the embedded Hub, answering like huggingface.co for huggingface_hub, transformers and datasets.

Revisions such as `refs/pr/1` arrive percent-encoded (`refs%2Fpr%2F1`); Starlette decodes the path before
routing, so routes that take a revision re-read the raw path (see `_tail`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import mimetypes
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from hubtools.hub import lfs
from hubtools.hub.xet_cas import XetCas, install_xet_routes
from hubtools.hub.auth import can_read, caller, require_write
from hubtools.hub.discussion_routes import add_discussion_routes
from hubtools.hub.limits import (
    COMMITS_PAGE_SIZE,
    MAX_COMMIT_DESCRIPTION_CHARS,
    MAX_COMMIT_SUMMARY_CHARS,
    MAX_OPERATIONS_PER_COMMIT,
    TREE_EXPAND_PAGE_SIZE,
    TREE_PAGE_SIZE,
    UNREFERENCED_BLOB_GRACE_SECONDS,
    BodyLimit,
    BodyTooLarge,
)
from hubtools.hub.ndjson import CommitStream
from hubtools.hub.page_routes import add_page_routes
from hubtools.hub.responses import error_response
from hubtools.hub.space_routes import add_space_routes
from hubtools.hub.spaces import SpacesRuntime
from hubtools.hub.store import (
    DEFAULT_BRANCH,
    REPO_TYPES,
    Addition,
    Deletion,
    FileEntry,
    HubStore,
    Identity,
    Operation,
    Repo,
    StoreError,
    iso,
    lfs_blob_id,
)
from hubtools.hub.validation import validate_path, validate_ref_name, validate_repo_name

LFS_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack", ".parquet", ".arrow",
    ".png", ".jpg", ".jpeg", ".gif", ".zip", ".gz", ".tar", ".npy", ".npz", ".pkl",
)
LFS_MIN_SIZE = 1024 * 1024
MAX_HEADER_BYTES = 32 * 1024
FRONT_MATTER = re.compile(r"^\s*---\s*\n(.*?)\n---\s*(?:\n|$)", re.DOTALL)
SPACE_SDKS = ("gradio", "docker", "static", "streamlit")
INLINE_TYPES = frozenset({
    "text/plain", "text/markdown", "text/csv", "text/x-python", "application/json", "application/octet-stream",
})
# Files are served from the Hub's own origin: never let a browser run or sniff them.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}


def split_revision(segments: list[str]) -> tuple[str, list[str]]:
    """First segment(s) -> revision; `refs/pr/1` may also arrive unencoded as three segments."""
    if not segments or not segments[0]:
        return DEFAULT_BRANCH, []
    if segments[0] == "refs" and len(segments) >= 3 and segments[1] in ("pr", "heads", "tags", "convert"):
        return "/".join(segments[:3]), segments[3:]
    return segments[0], segments[1:]


def _tail(request: Request, marker: str) -> list[str]:
    """Percent-decoded path segments after `marker`, the segment that follows the repo name."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.decode("latin-1").split("?")[0].split("/")
    if segments[1] == "api":
        index = 5
    elif segments[1] in ("datasets", "spaces") and len(segments) > 4 and segments[4] == marker:
        index = 4
    else:
        index = 3
    try:
        return [unquote(segment, errors="strict") for segment in segments[index + 1 :] if segment]
    except UnicodeDecodeError:
        raise StoreError(400, f"Malformed path {request.url.path!r}: percent-encoding is not UTF-8", "InvalidPath") from None


def _tree_oid(entries: list[FileEntry]) -> str:
    digest = hashlib.sha1()
    for entry in entries:
        digest.update(f"{entry.path}\0{entry.blob_id}\n".encode())
    return digest.hexdigest()


def file_json(entry: FileEntry) -> dict:
    data: dict = {"type": "file", "oid": entry.blob_id, "size": entry.size, "path": entry.path}
    if entry.is_lfs:
        data["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": len(entry.pointer())}
    return data


def read_card_data(store: HubStore, files: dict[str, FileEntry]) -> tuple[dict | None, str]:
    """YAML front matter of README.md (None when absent or invalid) and the README body."""
    readme = files.get("README.md")
    if readme is None or readme.size > 5 * 1024 * 1024:
        return None, ""
    text = store.blob_path(readme.sha256).read_text(encoding="utf-8", errors="replace")
    return split_front_matter(text)


def split_front_matter(text: str) -> tuple[dict | None, str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return None, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None, text[match.end():]
    return (data if isinstance(data, dict) else None), text[match.end():]


class BlobResponse(FileResponse):
    chunk_size = 1024 * 1024  # larger reads than Starlette's 64 kB: fewer event-loop round trips per download


class HeaderLimit:
    """Refuse requests whose headers exceed MAX_HEADER_BYTES with 431 (plain ASGI: bodies stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            response = error_response(431, f"Request headers exceed {MAX_HEADER_BYTES} bytes")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(root: Path, spaces_endpoint: str | None = None) -> FastAPI:
    """The Hub's routes; with `spaces_endpoint` (this Hub's URL, for the apps) it also runs Gradio Spaces."""
    store = HubStore(Path(root))
    store.clear_temp()
    store.collect_garbage(UNREFERENCED_BLOB_GRACE_SECONDS)
    secret = lfs.load_secret(Path(root))
    spaces = SpacesRuntime(store, spaces_endpoint)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        spaces.start_all()
        yield
        spaces.stop_all()

    app = FastAPI(title="hubtools embedded Hub", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store = store
    app.add_middleware(BodyLimit)
    app.add_middleware(HeaderLimit)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return error_response(exc.code, str(exc), exc.error_code)

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(413, str(exc), "PayloadTooLarge")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Unrouted paths (e.g. a repo id without namespace) answer like a missing repo, as on the Hub."""
        if exc.status_code == 404 and any(ord(c) < 32 for c in request.scope["path"]):  # no route matches a newline
            return error_response(400, f"Malformed path {request.scope['path']!r}: control characters", "InvalidPath")
        if exc.status_code == 404:
            return error_response(404, f"Repository Not Found for {request.url.path}", "RepoNotFound")
        return error_response(exc.status_code, str(exc.detail))

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def repo_type_of(plural: str) -> str:
        repo_type = plural[:-1] if plural.endswith("s") else plural
        if repo_type not in REPO_TYPES:
            raise StoreError(404, f"Unknown repo type '{plural}'", "RepoNotFound")
        return repo_type

    def readable_repo(request: Request, repo_type: str, namespace: str, name: str) -> Repo:
        repo = store.get_repo(repo_type, namespace, name)
        if repo is None or not can_read(caller(store, request), repo):
            raise StoreError(404, f"Repository Not Found: {repo_type} {namespace}/{name}", "RepoNotFound")
        return repo

    def writable_repo(request: Request, repo_type: str, namespace: str, name: str) -> tuple[Repo, str]:
        repo = readable_repo(request, repo_type, namespace, name)
        identity = require_write(caller(store, request), repo.namespace)
        return repo, identity.user

    def authenticated(request: Request) -> Identity:
        """The caller, or 401 before any body is read."""
        identity = caller(store, request)
        if identity is None:
            raise StoreError(401, "You must be authenticated: pass a token in the Authorization header")
        return identity

    def resolve(repo: Repo, revision: str) -> str:
        return store.resolve(repo, revision)

    def repo_at(request: Request, plural: str, namespace: str, name: str, marker: str) -> tuple[Repo, str, str, list[str]]:
        """(repo, revision, commit id, path segments) for a route `.../{marker}/{revision}[/{path}]`."""
        repo = readable_repo(request, repo_type_of(plural), namespace, name)
        revision, path_segments = split_revision(_tail(request, marker))
        return repo, revision, resolve(repo, revision), path_segments

    def entry_or_404(files: dict[str, FileEntry], path: str, repo: Repo, revision: str) -> FileEntry:
        entry = files.get(path)
        if entry is None:
            raise StoreError(404, f"Entry not found: {path} at {revision} in {repo.repo_id}", "EntryNotFound")
        return entry

    # ------------------------------------------------------------------ identity and repos

    @app.get("/api/whoami-v2")
    def whoami(request: Request) -> JSONResponse:
        identity = authenticated(request)
        return JSONResponse({
            "type": "user",
            "id": identity.user,
            "name": identity.user,
            "fullname": identity.user,
            "orgs": [{"type": "org", "name": org, "fullname": org} for org in identity.orgs],
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": "hubtools", "role": "read" if identity.read_only else "write"},
            },
        })

    @app.post("/api/repos/create")
    async def create_repo(request: Request) -> JSONResponse:
        identity = authenticated(request)
        payload = await json_body(request)
        repo_type = payload.get("type") or "model"
        name = payload.get("name")
        namespace = payload.get("organization") or identity.user
        if repo_type not in REPO_TYPES:
            raise StoreError(400, f"Invalid repo type {repo_type!r}: use one of {', '.join(REPO_TYPES)}")
        if not isinstance(name, str) or not isinstance(namespace, str):
            raise StoreError(400, "Missing repo 'name' (and 'organization', when given, must be a string)")
        validate_repo_name(namespace, name)
        require_write(identity, namespace)
        sdk = payload.get("sdk")
        if repo_type == "space" and sdk not in SPACE_SDKS:
            raise StoreError(400, f"Invalid Space sdk {sdk!r}: use one of {', '.join(SPACE_SDKS)}")
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{base_url(request)}/{prefix}{namespace}/{name}"
        try:
            repo = await run_in_threadpool(
                store.create_repo, repo_type, namespace, name, private, sdk if repo_type == "space" else None, identity.user
            )
        except StoreError as exc:
            if exc.code != 409:
                raise
            return JSONResponse({"error": str(exc), "url": url}, status_code=409, headers={"X-Error-Message": str(exc)})
        return JSONResponse({"url": url, "name": repo.repo_id, "id": repo.repo_id})

    @app.delete("/api/repos/delete")
    async def delete_repo(request: Request) -> Response:
        identity = authenticated(request)
        payload = await json_body(request)
        namespace = payload.get("organization") or identity.user
        repo = readable_repo(request, payload.get("type") or "model", namespace, str(payload.get("name")))
        require_write(identity, repo.namespace)
        await run_in_threadpool(store.delete_repo, repo)
        spaces.forget(repo)
        return Response(status_code=200)

    @app.put("/api/{plural}/{namespace}/{name}/settings")
    async def update_settings(request: Request, plural: str, namespace: str, name: str) -> JSONResponse:
        repo, _ = writable_repo(request, repo_type_of(plural), namespace, name)
        payload = await json_body(request)
        unsupported_settings = [
            f"{key}={value!r}" for key, value in payload.items()
            if not (key == "private" or (key == "visibility" and value in ("private", "public")) or (key == "gated" and value is False))
        ]
        if unsupported_settings:
            raise not_supported(request, f"repo settings {', '.join(unsupported_settings)}")
        private = payload.get("private")
        if payload.get("visibility") in ("private", "public"):
            private = payload["visibility"] == "private"
        if isinstance(private, bool):
            store.set_private(repo, private)
        return JSONResponse({})

    @app.post("/api/validate-yaml")
    async def validate_yaml(request: Request) -> JSONResponse:
        payload = await json_body(request)
        return await run_in_threadpool(validate_front_matter, payload.get("content"))

    # ------------------------------------------------------------------ info, tree, history

    @app.get("/api/{plural}")
    def list_repos(request: Request, plural: str) -> JSONResponse:
        if plural.removesuffix("s") not in REPO_TYPES:
            raise not_supported(request, plural)
        repo_type = repo_type_of(plural)
        identity = caller(store, request)
        author = request.query_params.get("author")
        search = request.query_params.get("search", "").lower()
        repos = [
            r for r in store.list_repos()
            if r.type == repo_type and can_read(identity, r)
            and (author is None or r.namespace == author) and search in r.repo_id.lower()
        ]
        return JSONResponse([
            {"_id": f"{r.pk:024x}", "id": r.repo_id, "author": r.namespace, "private": r.private,
             "createdAt": iso(r.created), "tags": [], "downloads": 0, "likes": 0}
            for r in repos
        ])

    @app.get("/api/{plural}/{namespace}/{name}")
    def repo_info(request: Request, plural: str, namespace: str, name: str) -> JSONResponse:
        return info_response(request, repo_type_of(plural), namespace, name, DEFAULT_BRANCH)

    @app.get("/api/{plural}/{namespace}/{name}/revision/{rest:path}")
    def repo_info_at(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        revision, _ = split_revision(_tail(request, "revision"))
        return info_response(request, repo_type_of(plural), namespace, name, revision)

    def info_response(request: Request, repo_type: str, namespace: str, name: str, revision: str) -> JSONResponse:
        repo = readable_repo(request, repo_type, namespace, name)
        commit_id = resolve(repo, revision)
        commit = store.commit(commit_id)
        files = store.files(commit_id)
        card_data, _ = read_card_data(store, files)
        with_blobs = request.query_params.get("blobs", "").lower() in ("1", "true")
        siblings = []
        for entry in files.values():
            sibling: dict = {"rfilename": entry.path}
            if with_blobs:
                sibling.update(size=entry.size, blobId=entry.blob_id)
                if entry.is_lfs:
                    sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": len(entry.pointer())}
            siblings.append(sibling)
        card = card_data or {}
        tags = card.get("tags") if isinstance(card.get("tags"), list) else []
        info: dict = {
            "_id": f"{repo.pk:024x}",
            "id": repo.repo_id,
            "author": repo.namespace,
            "sha": commit_id,
            "lastModified": iso(commit.date),
            "createdAt": iso(repo.created),
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": tags,
            "siblings": siblings,
            "cardData": card_data,
        }
        if repo_type == "model":
            info["modelId"] = repo.repo_id
            info["pipeline_tag"] = card.get("pipeline_tag")
            info["library_name"] = card.get("library_name")
            if "config.json" in files and files["config.json"].size < 1024 * 1024:
                try:
                    info["config"] = json.loads(store.blob_path(files["config.json"].sha256).read_bytes())
                except ValueError:
                    pass
        if repo_type == "space":
            info["sdk"] = repo.sdk
            info["runtime"] = spaces.runtime(repo)
            info["host"] = spaces.host(repo)
            info["subdomain"] = f"{repo.namespace}-{repo.name}".lower().replace("_", "-").replace(".", "-")
        return JSONResponse(info)

    add_space_routes(app, store, spaces, readable_repo, writable_repo, json_body)

    tree_items = functools.lru_cache(maxsize=8)(
        lambda commit_id, folder, recursive: list_tree(store.files(commit_id), folder, recursive)
    )

    @app.get("/api/{plural}/{namespace}/{name}/tree/{rest:path}")
    def tree(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        """One page of the listing (1000 entries, 50 with `expand`), the next one linked with a cursor as on the Hub."""
        repo, revision, commit_id, path_segments = repo_at(request, plural, namespace, name, "tree")
        folder = "/".join(path_segments)
        expand = query_flag(request, "expand")
        offset = 0
        if "cursor" in request.query_params:
            commit_id, offset = read_cursor(request.query_params["cursor"])
            resolve(repo, commit_id)  # the cursor's commit must belong to this repo
        items = tree_items(commit_id, folder, query_flag(request, "recursive"))
        if folder and not items:
            raise StoreError(404, f"Entry not found: {folder} at {revision} in {repo.repo_id}", "EntryNotFound")
        page_size = TREE_EXPAND_PAGE_SIZE if expand else TREE_PAGE_SIZE
        page = [dict(item) for item in items[offset : offset + page_size]]
        if expand:
            last = store.last_commits(commit_id, [item["path"] for item in page])
            for item in page:
                commit = last[item["path"]]
                item["lastCommit"] = {"id": commit.id, "title": commit.title, "date": iso(commit.date)}
        headers = {}
        if offset + page_size < len(items):
            next_url = request.url.include_query_params(cursor=make_cursor(commit_id, offset + page_size))
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse(page, headers=headers)

    @app.post("/api/{plural}/{namespace}/{name}/paths-info/{rest:path}")
    async def paths_info(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        _, _, commit_id, _ = await run_in_threadpool(repo_at, request, plural, namespace, name, "paths-info")
        paths = [str(path) for path in (await request.form()).getlist("paths")]
        return JSONResponse(await run_in_threadpool(lambda: paths_info_answer(store.files(commit_id), paths)))

    @app.get("/api/{plural}/{namespace}/{name}/commits/{rest:path}")
    def commits(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        repo, _, commit_id, _ = repo_at(request, plural, namespace, name, "commits")
        if "cursor" in request.query_params:  # the first commit of this page
            commit_id, _ = read_cursor(request.query_params["cursor"])
            resolve(repo, commit_id)
        history = store.history(commit_id, COMMITS_PAGE_SIZE + 1)
        headers = {}
        if len(history) > COMMITS_PAGE_SIZE:
            next_url = request.url.include_query_params(cursor=make_cursor(history.pop().id, 0))
            headers["Link"] = f'<{next_url}>; rel="next"'
        return JSONResponse(headers=headers, content=[
            {
                "id": c.id,
                "title": c.title,
                "message": c.message,
                "authors": [{"user": c.author}],
                "date": iso(c.date),
                "parents": c.parents,
            }
            for c in history
        ])

    @app.get("/api/{plural}/{namespace}/{name}/refs")
    def refs(request: Request, plural: str, namespace: str, name: str) -> JSONResponse:
        repo = readable_repo(request, repo_type_of(plural), namespace, name)
        answer: dict[str, list] = {"branches": [], "converts": [], "tags": [], "pullRequests": []}
        groups = {"refs/heads/": "branches", "refs/tags/": "tags", "refs/pr/": "pullRequests", "refs/convert/": "converts"}
        for ref, target in sorted(store.refs(repo).items()):
            for prefix, group in groups.items():
                if ref.startswith(prefix):
                    answer[group].append({"name": ref[len(prefix):], "ref": ref, "targetCommit": target})
        if request.query_params.get("include_prs", "") not in ("1", "true", "True"):
            del answer["pullRequests"]
        return JSONResponse(answer)

    @app.post("/api/{plural}/{namespace}/{name}/branch/{rest:path}")
    async def create_branch(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        repo, _ = writable_repo(request, repo_type_of(plural), namespace, name)
        branch = validate_ref_name("/".join(_tail(request, "branch")))
        payload = await json_body(request, allow_empty=True)
        store.create_branch(repo, branch, payload.get("startingPoint"))
        return JSONResponse({})

    @app.post("/api/{plural}/{namespace}/{name}/tag/{rest:path}")
    async def create_tag(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        repo, _ = writable_repo(request, repo_type_of(plural), namespace, name)
        revision, _ = split_revision(_tail(request, "tag"))
        payload = await json_body(request)
        tag = validate_ref_name(payload.get("tag"), "tag")
        await run_in_threadpool(store.create_tag, repo, tag, revision)
        return JSONResponse({})

    def delete_ref_route(kind: str, delete: Callable[[Repo, str], None]):
        def delete_ref(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
            repo, _ = writable_repo(request, repo_type_of(plural), namespace, name)
            delete(repo, "/".join(_tail(request, kind)))
            return JSONResponse({})

        return delete_ref

    for ref_kind, delete_ref in (("branch", store.delete_branch), ("tag", store.delete_tag)):
        app.add_api_route(
            f"/api/{{plural}}/{{namespace}}/{{name}}/{ref_kind}/{{rest:path}}", delete_ref_route(ref_kind, delete_ref),
            methods=["DELETE"],
        )

    @app.post("/api/{plural}/{namespace}/{name}/super-squash/{rest:path}")
    async def super_squash(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        repo, user = writable_repo(request, repo_type_of(plural), namespace, name)
        branch = "/".join(_tail(request, "super-squash")) or DEFAULT_BRANCH
        message = str((await json_body(request, allow_empty=True)).get("message") or f"Super-squash branch '{branch}'")
        if len(message) > MAX_COMMIT_SUMMARY_CHARS:
            raise StoreError(413, f"Commit message longer than {MAX_COMMIT_SUMMARY_CHARS} characters")
        commit_id = await run_in_threadpool(store.super_squash, repo, branch, message, user)
        return JSONResponse({"commitId": commit_id})

    add_discussion_routes(app, store, repo_type_of, readable_repo, authenticated, json_body, base_url)

    # ------------------------------------------------------------------ uploads

    @app.post("/api/{plural}/{namespace}/{name}/preupload/{rest:path}")
    async def preupload(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        repo, _ = writable_repo(request, repo_type_of(plural), namespace, name)
        revision, _ = split_revision(_tail(request, "preupload"))
        payload = await json_body(request)
        if not isinstance(payload.get("files"), list):
            raise StoreError(400, "preupload needs a 'files' list")
        try:
            existing = await run_in_threadpool(lambda: store.files(resolve(repo, revision)))
        except StoreError:
            existing = {}
        answers = []
        for item in payload["files"]:
            path = validate_path(item.get("path") if isinstance(item, dict) else None)
            mode = "lfs" if _wants_lfs(path, item.get("size"), item.get("sample")) else "regular"
            remote = existing.get(path)
            oid = None
            if remote is not None:
                oid = remote.sha256 if mode == "lfs" else (None if remote.is_lfs else remote.blob_id)
            answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return JSONResponse({"files": answers})

    @app.post("/api/{plural}/{namespace}/{name}/commit/{rest:path}")
    async def commit(request: Request, plural: str, namespace: str, name: str, rest: str) -> JSONResponse:
        repo, user = writable_repo(request, repo_type_of(plural), namespace, name)
        revision, _ = split_revision(_tail(request, "commit"))
        create_pr = request.query_params.get("create_pr", "") in ("1", "true", "True")
        header, operations = await parse_commit_payload(request, repo, revision, authenticated(request))
        summary = str(header.get("summary") or "").strip()
        description = str(header.get("description") or "")
        if not summary:
            raise StoreError(400, "Commit summary must not be empty")
        if len(summary) > MAX_COMMIT_SUMMARY_CHARS or len(description) > MAX_COMMIT_DESCRIPTION_CHARS:
            raise StoreError(
                413, f"Commit summary (at most {MAX_COMMIT_SUMMARY_CHARS} characters) or description (at most"
                f" {MAX_COMMIT_DESCRIPTION_CHARS}) is too long: {len(summary)} and {len(description)} characters",
            )
        parent = header.get("parentCommit")
        if parent is not None and not (isinstance(parent, str) and re.fullmatch(r"[0-9a-fA-F]{7,40}", parent)):
            raise StoreError(400, f"parentCommit must be a commit id, got {parent!r}")
        commit_id, pr_num = await run_in_threadpool(
            store.apply_commit, repo, revision, operations, user, summary, description, parent, create_pr
        )
        await run_in_threadpool(spaces.sync, repo)
        repo_url = f"{base_url(request)}/{repo.url_prefix}{repo.repo_id}"
        return JSONResponse({
            "success": True,
            "commitOid": commit_id,
            "commitUrl": f"{repo_url}/commit/{commit_id}",
            "hookOutput": "",
            "pullRequestUrl": f"{repo_url}/discussions/{pr_num}" if pr_num else None,
        })

    async def parse_commit_payload(
        request: Request, repo: Repo, revision: str, identity: Identity
    ) -> tuple[dict, list[Operation]]:
        header: dict | None = None
        operations: list[Operation] = []
        stream = CommitStream(store)

        def take(items: list[tuple[int, dict]]) -> None:
            nonlocal header
            for line_number, item in items:
                header = add_commit_item(item, line_number, header, operations, repo, revision, identity)

        try:  # decoding, hashing and blob writes run in a worker thread, off the event loop
            async for chunk in request.stream():
                await run_in_threadpool(lambda data: take(stream.feed(data)), chunk)
            await run_in_threadpool(lambda: take(stream.close()))
        finally:
            stream.abort()
        if header is None:
            raise StoreError(400, "Malformed commit payload: missing 'header' line")
        return header, operations

    def add_commit_item(
        item: object, line_number: int, header: dict | None, operations: list[Operation], repo: Repo, revision: str,
        identity: Identity,
    ) -> dict:
        """Record one NDJSON item; returns the commit header (set by the first line)."""
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise StoreError(400, f"Malformed commit payload: line {line_number} needs 'key' and an object 'value'")
        if item.get("key") == "header":
            return item["value"]
        if header is None:
            raise StoreError(400, "Malformed commit payload: the first line must be the 'header'")
        if len(operations) >= MAX_OPERATIONS_PER_COMMIT:
            raise StoreError(413, f"Too many operations in one commit: at most {MAX_OPERATIONS_PER_COMMIT}; split it into several commits")
        operations.append(to_operation(item.get("key"), item["value"], repo, revision, line_number, identity))
        return header

    def to_operation(
        key: object, value: dict, repo: Repo, revision: str, line_number: int, identity: Identity
    ) -> Operation:
        path = value.get("path")
        path = validate_path(path.rstrip("/") if key == "deletedFolder" and isinstance(path, str) else path)
        if key == "file" and isinstance(value.get("content"), Addition):  # decoded while streaming (ndjson.py)
            if value.get("encoding", "base64") != "base64":
                raise StoreError(400, f"Line {line_number}: inline file '{path}' must be base64-encoded")
            streamed = value["content"]
            return Addition(path, streamed.sha256, streamed.size, False, streamed.blob_id)
        if key == "file":
            if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
                raise StoreError(400, f"Line {line_number}: inline file '{path}' must carry base64 'content'")
            try:
                content = base64.b64decode(value["content"], validate=True)
            except (binascii.Error, ValueError):
                raise StoreError(400, f"Line {line_number}: content of '{path}' is not valid base64") from None
            blob = store.put_bytes(content)
            return Addition(path, blob.sha256, blob.size, False, blob.blob_id)
        if key == "lfsFile":
            oid = value.get("oid")
            size = value.get("size")
            usable = isinstance(oid, str) and bool(lfs.SHA256_PATTERN.match(oid)) and store.blob_usable_by(repo, oid, identity)
            if size is None and usable:
                size = store.blob_path(oid).stat().st_size
            oid, size = lfs.check_object(oid, size)
            if not (usable and store.has_blob(oid, size)):  # same answer whether or not another repo holds it
                raise StoreError(400, f"Line {line_number}: LFS object for '{path}' ({oid}) was not uploaded to {repo.repo_id}")
            return Addition(path, oid, size, True, lfs_blob_id(oid, size))
        if key in ("deletedFile", "deletedFolder"):
            return Deletion(path, key == "deletedFolder")
        if key == "copyFile":
            source_revision = value.get("srcRevision") or revision
            source_path = validate_path(value.get("srcPath"))
            files = store.files(resolve(repo, source_revision))
            source = entry_or_404(files, source_path, repo, source_revision)
            return Addition(path, source.sha256, source.size, source.is_lfs, source.blob_id)
        raise StoreError(400, f"Line {line_number}: unknown commit operation {key!r}")

    # ------------------------------------------------------------------ LFS

    def lfs_batch_route(repo_type: str):
        async def lfs_batch(request: Request, namespace: str, name_git: str) -> JSONResponse:
            if not name_git.endswith(".git"):
                raise StoreError(404, "Not found")
            repo, _ = writable_repo(request, repo_type, namespace, name_git[: -len(".git")])
            identity = authenticated(request)
            payload = await json_body(request)
            answer = await run_in_threadpool(lfs.batch_response, store, secret, base_url(request), payload, repo, identity)
            return JSONResponse(answer, media_type="application/vnd.git-lfs+json")

        return lfs_batch

    def repo_for_cas_token(request: Request, plural: str, namespace: str, name: str, scope: str) -> Repo:
        repo_type = repo_type_of(plural)
        if scope == "write":
            repo = writable_repo(request, repo_type, namespace, name)[0]
        else:
            repo = readable_repo(request, repo_type, namespace, name)
        revision, _ = split_revision(_tail(request, f"xet-{scope}-token"))
        if revision != "None":  # huggingface_hub sends "None" when the revision is not known yet (a new PR)
            resolve(repo, revision)
        return repo

    app.state.xet = XetCas(store)
    install_xet_routes(app, app.state.xet, secret, repo_for_cas_token, base_url)

    for lfs_prefix in ("", "/datasets", "/spaces"):
        app.add_api_route(
            lfs_prefix + "/{namespace}/{name_git}/info/lfs/objects/batch",
            lfs_batch_route(lfs_prefix.strip("/")[:-1] if lfs_prefix else "model"),
            methods=["POST"],
        )


    @app.put("/api/lfs-objects/{repo_pk}/{oid}/{size}/{signature}")
    async def lfs_upload(request: Request, repo_pk: int, oid: str, size: int, signature: str) -> Response:
        await lfs.receive_object(store, secret, request, repo_pk, oid, size, signature)
        return Response(status_code=200)

    @app.post("/api/lfs-verify")
    async def lfs_verify(request: Request) -> JSONResponse:
        identity = authenticated(request)
        lfs.verify_object(store, await json_body(request), identity)
        return JSONResponse({"success": True})

    # ------------------------------------------------------------------ downloads

    def resolve_route(repo_type: str):
        def resolve_file(request: Request, namespace: str, name: str, rest: str) -> Response:
            repo = readable_repo(request, repo_type, namespace, name)
            revision, path_segments = split_revision(_tail(request, "resolve"))
            path = validate_path("/".join(path_segments))
            commit_id = resolve(repo, revision)
            entry = entry_or_404(store.files(commit_id), path, repo, revision)
            media_type, disposition = download_type(path)
            headers = {"X-Repo-Commit": commit_id, "ETag": f'"{entry.sha256 if entry.is_lfs else entry.blob_id}"', **DOWNLOAD_HEADERS}
            if entry.is_lfs:
                headers["X-Linked-Etag"] = f'"{entry.sha256}"'
                headers["X-Linked-Size"] = str(entry.size)
            return BlobResponse(store.blob_path(entry.sha256), headers=headers, filename=Path(path).name,
                                media_type=media_type, content_disposition_type=disposition)

        return resolve_file

    for resolve_prefix in ("/datasets", "/spaces", ""):
        app.add_api_route(
            resolve_prefix + "/{namespace}/{name}/resolve/{rest:path}",
            resolve_route(resolve_prefix.strip("/")[:-1] if resolve_prefix else "model"),
            methods=["GET", "HEAD"],
        )


    # ------------------------------------------------------------------ the rest: unsupported API calls, then pages

    @app.api_route("/api/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    def unsupported(request: Request, rest: str) -> JSONResponse:
        """Keep this route after every API route: any other /api call answers 501 naming the feature, or 404 for a missing repo."""
        parts = rest.split("/")
        feature = "/".join(parts[:2])
        if parts[0] in ("models", "datasets", "spaces") and len(parts) >= 3:
            readable_repo(request, repo_type_of(parts[0]), parts[1], parts[2])
            feature = "/".join(parts[3:]) or f"{request.method} on a repo"
        raise not_supported(request, feature)

    add_page_routes(  # last: `/{namespace}/{name}` matches widely
        app, store, readable_repo, repo_at, read_card_data, spaces)

    return app


def not_supported(request: Request, feature: str) -> StoreError:
    return StoreError(
        501, f"The embedded Hub does not support '{feature}' ({request.method} {request.url.path})", "NotImplemented"
    )


def validate_front_matter(content: object) -> JSONResponse:
    """The `validate-yaml` answer: 400 with `errors` for YAML that is not a mapping, `warnings` when empty."""
    if not isinstance(content, str):
        return JSONResponse({"errors": [{"message": "'content' must be a string"}]}, status_code=400)
    match = FRONT_MATTER.match(content)
    try:
        data = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError as exc:
        return JSONResponse({"errors": [{"message": f"Invalid YAML in README front matter: {exc}"}]}, status_code=400)
    if data is not None and not isinstance(data, dict):
        return JSONResponse({"errors": [{"message": "README front matter must be a YAML mapping"}]}, status_code=400)
    warnings = [] if data else [{"message": "empty or missing yaml metadata in repo card"}]
    return JSONResponse({"errors": [], "warnings": warnings})


def paths_info_answer(files: dict[str, FileEntry], paths: list[str]) -> list[dict]:
    answers = []
    for path in paths:
        path = path.strip("/")
        if path in files:
            answers.append(file_json(files[path]))
        else:
            below = [e for p, e in files.items() if p.startswith(path + "/")]
            if below:
                answers.append({"type": "directory", "oid": _tree_oid(below), "size": 0, "path": path})
    return answers


def query_flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true")


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
        items.append({"type": "directory", "oid": _tree_oid(entries), "size": 0, "path": folder_path})
    items.sort(key=lambda item: (item["path"].count("/"), item["type"] != "directory", item["path"]))
    return items


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
    raise StoreError(400, f"Invalid pagination cursor {cursor[:60]!r}: follow the Link header of the previous page")


def download_type(path: str) -> tuple[str, str]:
    """(Content-Type, disposition): only passive types are shown inline; html, svg, xml, js... download."""
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    inline = media_type in INLINE_TYPES or media_type.split("/")[0] in ("audio", "video") or (
        media_type.startswith("image/") and media_type != "image/svg+xml"
    )
    return media_type, "inline" if inline else "attachment"


def _wants_lfs(path: str, size: object, sample: object) -> bool:
    if not isinstance(size, int) or size == 0:
        return False
    if size >= LFS_MIN_SIZE or path.lower().endswith(LFS_SUFFIXES):
        return True
    try:
        return b"\0" in base64.b64decode(sample or "")
    except (binascii.Error, ValueError, TypeError):
        return False


async def json_body(request: Request, allow_empty: bool = False) -> dict:
    body = await request.body()
    if not body and allow_empty:
        return {}
    try:
        payload = await run_in_threadpool(json.loads, body) if len(body) > 64 * 1024 else json.loads(body)
    except ValueError:
        raise StoreError(400, "Request body must be JSON") from None
    if not isinstance(payload, dict):
        raise StoreError(400, "Request body must be a JSON object")
    return payload
