"""Uploads: preupload (which files go through LFS) and commits sent as NDJSON (streamed, see ndjson.py)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hubtools.hub import gitignore, lfs
from hubtools.hub.deps import Authenticated, CommittableRepo, State, Store, base_url, json_body, query_flag, raw_tail, split_revision
from hubtools.hub.errors import EntryNotFound, InvalidRequest, NotFound, PayloadTooLarge
from hubtools.hub.limits import MAX_COMMIT_DESCRIPTION_CHARS, MAX_COMMIT_SUMMARY_CHARS, MAX_OPERATIONS_PER_COMMIT
from hubtools.hub.ndjson import CommitStream
from hubtools.hub.payloads import CommitHeader, CopyFileValue, LfsFileValue, PathValue, parse
from hubtools.hub.store import Deletion, FileEntry, HubStore, Identity, Operation, Repo, lfs_blob_id
from hubtools.hub.validation import validate_path

LFS_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack", ".parquet", ".arrow",
    ".png", ".jpg", ".jpeg", ".gif", ".zip", ".gz", ".tar", ".npy", ".npz", ".pkl",
)
LFS_MIN_SIZE = 1024 * 1024
MAX_GITIGNORE_BYTES = 1024 * 1024

router = APIRouter()


@router.post("/api/{plural}/{namespace}/{name}/preupload/{rest:path}")
async def preupload(request: Request, repo: CommittableRepo, store: Store) -> JSONResponse:
    revision, _ = split_revision(raw_tail(request, "preupload"))
    payload = await json_body(request)
    if not isinstance(payload.get("files"), list):
        raise InvalidRequest("preupload needs a 'files' list")
    try:
        existing = await run_in_threadpool(lambda: store.files(store.resolve(repo, revision)))
    except NotFound:
        existing = {}
    ignore_rules = gitignore.parse(await run_in_threadpool(_gitignore_text, store, payload.get("gitIgnore"), existing))
    answers = []
    for item in payload["files"]:
        path = validate_path(item.get("path") if isinstance(item, dict) else None)
        mode = "lfs" if _wants_lfs(path, item.get("size"), item.get("sample")) else "regular"
        remote = existing.get(path)
        oid = None
        if remote is not None:
            oid = remote.sha256 if mode == "lfs" else (None if remote.is_lfs else remote.blob_id)
        answers.append({"path": path, "uploadMode": mode, "shouldIgnore": gitignore.is_ignored(ignore_rules, path), "oid": oid})
    return JSONResponse({"files": answers})


def _gitignore_text(store: HubStore, sent: object, existing: dict[str, FileEntry]) -> str:
    """The .gitignore that applies: the one the commit brings (sent by the client), else the revision's."""
    if isinstance(sent, str):
        return sent
    entry = existing.get(".gitignore")
    if entry is None or entry.size > MAX_GITIGNORE_BYTES:
        return ""
    return store.blob_path(entry.sha256).read_text(encoding="utf-8", errors="replace")


@router.post("/api/{plural}/{namespace}/{name}/commit/{rest:path}")
async def commit(request: Request, repo: CommittableRepo, identity: Authenticated, state: State) -> JSONResponse:
    revision, _ = split_revision(raw_tail(request, "commit"))
    create_pr = query_flag(request, "create_pr")
    header, operations = await parse_commit_payload(request, state.store, repo, revision, identity)
    summary, description = header.summary.strip(), header.description
    if not summary:
        raise InvalidRequest("Commit summary must not be empty")
    if len(summary) > MAX_COMMIT_SUMMARY_CHARS or len(description) > MAX_COMMIT_DESCRIPTION_CHARS:
        raise PayloadTooLarge(
            f"Commit summary (at most {MAX_COMMIT_SUMMARY_CHARS} characters) or description (at most"
            f" {MAX_COMMIT_DESCRIPTION_CHARS}) is too long: {len(summary)} and {len(description)} characters",
        )
    parent = header.parentCommit
    if parent is not None and not re.fullmatch(r"[0-9a-fA-F]{7,40}", parent):
        raise InvalidRequest(f"parentCommit must be a commit id, got {parent!r}")
    commit_id, pr_num = await run_in_threadpool(
        state.store.apply_commit, repo, revision, operations, identity.user, summary, description, parent, create_pr
    )
    await run_in_threadpool(state.spaces.sync, repo)
    repo_url = f"{base_url(request)}/{repo.url_prefix}{repo.repo_id}"
    return JSONResponse({
        "success": True,
        "commitOid": commit_id,
        "commitUrl": f"{repo_url}/commit/{commit_id}",
        "hookOutput": "",
        "pullRequestUrl": f"{repo_url}/discussions/{pr_num}" if pr_num else None,
    })


async def parse_commit_payload(
    request: Request, store: HubStore, repo: Repo, revision: str, identity: Identity
) -> tuple[CommitHeader, list[Operation]]:
    header: CommitHeader | None = None
    operations: list[Operation] = []
    stream = CommitStream(store)

    def take(items: list[tuple[int, dict]]) -> None:
        nonlocal header
        for line_number, item in items:
            header = add_commit_item(store, item, line_number, header, operations, repo, revision, identity)

    try:  # decoding, hashing and blob writes run in a worker thread, off the event loop
        async for chunk in request.stream():
            await run_in_threadpool(lambda data: take(stream.feed(data)), chunk)
        await run_in_threadpool(lambda: take(stream.close()))
    finally:
        stream.abort()
    if header is None:
        raise InvalidRequest("Malformed commit payload: missing 'header' line")
    return header, operations


def add_commit_item(
    store: HubStore, item: object, line_number: int, header: CommitHeader | None, operations: list[Operation], repo: Repo,
    revision: str, identity: Identity,
) -> CommitHeader:
    """Record one NDJSON item; returns the commit header (set by the first line)."""
    if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
        raise InvalidRequest(f"Malformed commit payload: line {line_number} needs 'key' and an object 'value'")
    if item.get("key") == "header":
        return parse(CommitHeader, item["value"], f"Commit payload line {line_number} (header)")
    if header is None:
        raise InvalidRequest("Malformed commit payload: the first line must be the 'header'")
    if len(operations) >= MAX_OPERATIONS_PER_COMMIT:
        raise PayloadTooLarge(f"Too many operations in one commit: at most {MAX_OPERATIONS_PER_COMMIT}; split it into several commits")
    operations.append(to_operation(store, item.get("key"), item["value"], repo, revision, line_number, identity))
    return header


def to_operation(
    store: HubStore, key: object, value: dict, repo: Repo, revision: str, line_number: int, identity: Identity
) -> Operation:
    what = f"Commit payload line {line_number} ({key})"
    path = parse(PathValue, value, what).path
    path = validate_path(path.rstrip("/") if key == "deletedFolder" else path)
    if key == "file" and isinstance(value.get("content"), FileEntry):  # decoded while streaming (ndjson.py)
        if value.get("encoding", "base64") != "base64":
            raise InvalidRequest(f"Line {line_number}: inline file '{path}' must be base64-encoded")
        return dataclasses.replace(value["content"], path=path)
    if key == "file":
        if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
            raise InvalidRequest(f"Line {line_number}: inline file '{path}' must carry base64 'content'")
        try:
            content = base64.b64decode(value["content"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"Line {line_number}: content of '{path}' is not valid base64") from None
        return dataclasses.replace(store.put_bytes(content), path=path)
    if key == "lfsFile":
        lfs_file = parse(LfsFileValue, value, what)
        oid, size = lfs_file.oid, lfs_file.size
        usable = bool(lfs.SHA256_PATTERN.match(oid)) and store.blob_usable_by(repo, oid, identity)
        if size is None and usable:
            size = store.blob_path(oid).stat().st_size
        oid, size = lfs.check_object(oid, size)
        if not (usable and store.has_blob(oid, size)):  # same answer whether or not another repo holds it
            raise InvalidRequest(f"Line {line_number}: LFS object for '{path}' ({oid}) was not uploaded to {repo.repo_id}")
        return FileEntry(path, oid, size, True, lfs_blob_id(oid, size))
    if key in ("deletedFile", "deletedFolder"):
        return Deletion(path, key == "deletedFolder")
    if key == "copyFile":
        copy = parse(CopyFileValue, value, what)
        source_revision = copy.srcRevision or revision
        source_path = validate_path(copy.srcPath)
        source = store.files(store.resolve(repo, source_revision)).get(source_path)
        if source is None:
            raise EntryNotFound(f"Entry not found: {source_path} at {source_revision} in {repo.repo_id}")
        return dataclasses.replace(source, path=path)
    raise InvalidRequest(f"Line {line_number}: unknown commit operation {key!r}")


def _wants_lfs(path: str, size: object, sample: object) -> bool:
    if not isinstance(size, int) or size == 0:
        return False
    if size >= LFS_MIN_SIZE or path.lower().endswith(LFS_SUFFIXES):
        return True
    try:
        return b"\0" in base64.b64decode(sample or "")
    except (binascii.Error, ValueError, TypeError):
        return False
