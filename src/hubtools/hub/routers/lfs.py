"""Git LFS uploads: the batch API (`/{repo}.git/info/lfs/objects/batch`), signed PUT URLs and verification."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hubtools.hub import lfs
from hubtools.hub.auth import require_write
from hubtools.hub.deps import Authenticated, Caller, State, base_url, find_readable, json_body, repo_type_in
from hubtools.hub.errors import NotFound
from hubtools.hub.repo_types import ROUTE_PREFIXES

router = APIRouter()


async def lfs_batch(request: Request, namespace: str, name_git: str, caller: Caller, state: State) -> JSONResponse:
    if not name_git.endswith(".git"):
        raise NotFound("Not found")
    repo = find_readable(state.store, caller, repo_type_in(request), namespace, name_git[: -len(".git")])
    identity = require_write(caller, repo.namespace)
    payload = await json_body(request)
    answer = await run_in_threadpool(lfs.batch_response, state.store, state.secret, base_url(request), payload, repo, identity)
    return JSONResponse(answer, media_type="application/vnd.git-lfs+json")


for _prefix in ROUTE_PREFIXES:
    router.add_api_route(_prefix + "/{namespace}/{name_git}/info/lfs/objects/batch", lfs_batch, methods=["POST"])


@router.put("/api/lfs-objects/{repo_pk}/{oid}/{size}/{signature}")
async def lfs_upload(request: Request, repo_pk: int, oid: str, size: int, signature: str, state: State) -> Response:
    await lfs.receive_object(state.store, state.secret, request, repo_pk, oid, size, signature)
    return Response(status_code=200)


@router.post("/api/lfs-verify")
async def lfs_verify(request: Request, identity: Authenticated, state: State) -> JSONResponse:
    lfs.verify_object(state.store, await json_body(request), identity)
    return JSONResponse({"success": True})
