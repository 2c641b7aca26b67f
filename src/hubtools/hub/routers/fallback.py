"""Any other `/api/...` call: 501 naming the huggingface.co feature this Hub lacks, or 404 for a missing repo.

Included after every API router and before the pages (whose `/{namespace}/{name}` matches widely)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hubtools.hub.deps import REPO_NOT_FOUND, Caller, Store, find_readable, not_supported
from hubtools.hub.errors import RepoNotFound
from hubtools.hub.repo_types import from_plural

router = APIRouter()


def unsupported(request: Request, rest: str, identity: Caller, store: Store) -> JSONResponse:
    parts = rest.split("/")
    feature = "/".join(parts[:2])
    repo_type = from_plural(parts[0])
    if repo_type is not None and len(parts) == 2:  # a repo id without namespace: huggingface.co has none such
        raise RepoNotFound(REPO_NOT_FOUND)
    if repo_type is not None and len(parts) >= 3:
        find_readable(store, identity, repo_type, parts[1], parts[2])
        feature = "/".join(parts[3:]) or f"{request.method} on a repo"
    raise not_supported(request, feature)


for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):  # one route per method: one operation id each
    router.add_api_route("/api/{rest:path}", unsupported, methods=[_method])
