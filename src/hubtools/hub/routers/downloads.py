"""Downloads: `/{repo}/resolve/{revision}/{path}` (GET and HEAD, with HTTP ranges) for the three repo types.

Files uploaded through Xet also carry `X-Xet-Hash` and their token route, so clients with hf_xet download them
through the CAS (routers/xet_downloads.py); the body is the same file for those without."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from hubtools.hub.deps import ReadableRepo, State, base_url, raw_tail, split_revision
from hubtools.hub.errors import EntryNotFound
from hubtools.hub.repo_types import ROUTE_PREFIXES, plural
from hubtools.hub.store import Repo
from hubtools.hub.validation import validate_path

INLINE_TYPES = frozenset({
    "text/plain", "text/markdown", "text/csv", "text/x-python", "application/json", "application/octet-stream",
})
# Files are served from the Hub's own origin: never let a browser run or sniff them.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}

router = APIRouter()


class BlobResponse(FileResponse):
    chunk_size = 1024 * 1024  # larger reads than Starlette's 64 kB: fewer event-loop round trips per download


def download_type(path: str) -> tuple[str, str]:
    """(Content-Type, disposition): only passive types are shown inline; html, svg, xml, js... download."""
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    inline = media_type in INLINE_TYPES or media_type.split("/")[0] in ("audio", "video") or (
        media_type.startswith("image/") and media_type != "image/svg+xml"
    )
    return media_type, "inline" if inline else "attachment"


def xet_headers(request: Request, repo: Repo, commit_id: str, file_hash: str) -> dict[str, str]:
    """What makes huggingface_hub download through Xet: the file's Xet hash and where to get a CAS read token."""
    refresh = f"{base_url(request)}/api/{plural(repo.type)}/{repo.repo_id}/xet-read-token/{commit_id}"
    return {"X-Xet-Hash": file_hash, "X-Xet-Refresh-Route": refresh, "Link": f'<{refresh}>; rel="xet-auth"'}


def resolve_file(request: Request, repo: ReadableRepo, state: State) -> Response:
    revision, path_segments = split_revision(raw_tail(request, "resolve"))
    path = validate_path("/".join(path_segments))
    store = state.store
    commit_id = store.resolve(repo, revision)
    entry = store.file_entry(commit_id, path)
    if entry is None:
        raise EntryNotFound(f"Entry not found: {path} at {revision} in {repo.repo_id}")
    media_type, disposition = download_type(path)
    headers = {"X-Repo-Commit": commit_id, "ETag": f'"{entry.sha256 if entry.is_lfs else entry.blob_id}"', **DOWNLOAD_HEADERS}
    if entry.is_lfs:
        headers["X-Linked-Etag"] = f'"{entry.sha256}"'
        headers["X-Linked-Size"] = str(entry.size)
        file_hash = state.cas.files.hashes_of([entry.sha256]).get(entry.sha256)
        if file_hash is not None:
            headers.update(xet_headers(request, repo, commit_id, file_hash))
    return BlobResponse(store.blob_path(entry.sha256), headers=headers, filename=Path(path).name,
                        media_type=media_type, content_disposition_type=disposition)


for _prefix in ROUTE_PREFIXES:
    for _method in ("GET", "HEAD"):  # one route per method: one operation id each in the OpenAPI schema
        router.add_api_route(_prefix + "/{namespace}/{name}/resolve/{rest:path}", resolve_file, methods=[_method])
