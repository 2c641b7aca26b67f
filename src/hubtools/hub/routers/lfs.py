"""Git LFS uploads: the batch API (`/{repo}.git/info/lfs/objects/batch`), signed PUT URLs and verification."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hubtools.hub import lfs
from hubtools.hub.auth import bearer_token, require_upload
from hubtools.hub.deps import (
    Authenticated,
    Caller,
    ReadableRepo,
    State,
    Store,
    WritableRepo,
    base_url,
    find_readable,
    json_body,
    repo_type_in,
)
from hubtools.hub.errors import InvalidRequest, NotFound, NotSupported
from hubtools.hub.payloads import LfsBatch, LfsFilesDeletion, LfsObject, documented
from hubtools.hub.store import iso
from hubtools.hub.store.identity import hash_token
from hubtools.hub.repo_types import ROUTE_PREFIXES

router = APIRouter()


async def lfs_batch(request: Request, namespace: str, name_git: str, caller: Caller, state: State) -> JSONResponse:
    if not name_git.endswith(".git"):
        raise NotFound("Not found")
    repo = find_readable(state.store, caller, repo_type_in(request), namespace, name_git[: -len(".git")])
    identity = require_upload(caller, repo)
    payload = await json_body(request)
    token_hash = hash_token(bearer_token(request) or "")  # require_upload: a token was sent
    answer = await run_in_threadpool(
        lfs.batch_response, state.store, state.secret, base_url(request), payload, repo, identity, token_hash
    )
    return JSONResponse(answer, media_type="application/vnd.git-lfs+json")


for _prefix in ROUTE_PREFIXES:
    router.add_api_route(_prefix + "/{namespace}/{name_git}/info/lfs/objects/batch", lfs_batch, methods=["POST"],
                         openapi_extra=documented(LfsBatch))


@router.put("/api/lfs-objects/{repo_pk}/{oid}/{size}/{grant}")
async def lfs_upload(request: Request, repo_pk: int, oid: str, size: int, grant: str, state: State) -> Response:
    await lfs.receive_object(state.store, state.secret, request, repo_pk, oid, size, grant)
    return Response(status_code=200)


@router.post("/api/lfs-verify", openapi_extra=documented(LfsObject))
async def lfs_verify(request: Request, identity: Authenticated, state: State) -> JSONResponse:
    lfs.verify_object(state.store, await json_body(request), identity)
    return JSONResponse({"success": True})


@router.get("/api/{plural}/{namespace}/{name}/lfs-files")
def list_lfs_files(repo: ReadableRepo, store: Store) -> JSONResponse:
    return JSONResponse([
        {"oid": item["entry"].sha256, "fileOid": item["entry"].blob_id, "filename": item["entry"].path,
         "size": item["entry"].size, "ref": item["ref"], "pushedAt": iso(item["date"])}
        for item in store.lfs_files(repo)
    ])


@router.post("/api/{plural}/{namespace}/{name}/lfs-files/batch", openapi_extra=documented(LfsFilesDeletion))
async def delete_lfs_files(request: Request, repo: WritableRepo, store: Store) -> JSONResponse:
    """Permanently delete LFS files: they leave every commit (rewriteHistory); their blobs become collectable."""
    deletions = (await json_body(request)).get("deletions")
    blob_ids = deletions.get("sha") if isinstance(deletions, dict) else None
    if not isinstance(blob_ids, list) or not all(isinstance(b, str) for b in blob_ids):
        raise InvalidRequest("Deleting LFS files needs {'deletions': {'sha': [file oids], 'rewriteHistory': true}}")
    if deletions.get("rewriteHistory") is False:
        raise NotSupported("The embedded Hub does not support 'LFS file deletion without rewriteHistory'")
    await run_in_threadpool(store.delete_lfs_files, repo, blob_ids)
    return JSONResponse({})
