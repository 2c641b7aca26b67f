"""Any other `/api/...` call: 501 naming the huggingface.co feature this Hub lacks, or 404 for a missing repo.

Included after every API router and before the pages (whose `/{namespace}/{name}` matches widely)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hubtools.hub.deps import Caller, Store, find_readable, not_supported
from hubtools.hub.repo_types import from_plural

router = APIRouter()


@router.api_route("/api/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def unsupported(request: Request, rest: str, identity: Caller, store: Store) -> JSONResponse:
    parts = rest.split("/")
    feature = "/".join(parts[:2])
    repo_type = from_plural(parts[0])
    if repo_type is not None and len(parts) >= 3:
        find_readable(store, identity, repo_type, parts[1], parts[2])
        feature = "/".join(parts[3:]) or f"{request.method} on a repo"
    raise not_supported(request, feature)
