"""Xet: CAS token routes (`/api/{plural}/{repo}/xet-{read,write}-token/{rev}`) and the CAS API under `/xet-cas`:
xorb and shard upload, global dedupe (the CAS store is xet_cas.py)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hubtools.hub import xet
from hubtools.hub.auth import bearer_token, require_upload
from hubtools.hub.deps import Caller, ReadableRepo, State, base_url, raw_tail, split_revision
from hubtools.hub.errors import InvalidRequest, NotFound
from hubtools.hub.store import Repo
from hubtools.hub.xet_cas import (
    CAS_PATH,
    DEDUPE_PREFIXES,
    READ,
    TOKEN_LIFETIME_S,
    WRITE,
    CasGrant,
    cas_instance,
    check_cas_token,
    issue_cas_token,
)

router = APIRouter()


def cas_token_answer(request: Request, state: State, repo: Repo, scope: str) -> JSONResponse:
    """A CAS token for `repo` once the revision in the URL exists (huggingface_hub sends "None" for a new PR)."""
    revision, _ = split_revision(raw_tail(request, f"xet-{scope}-token"))
    if revision != "None":
        state.store.resolve(repo, revision)
    expires = int(time.time()) + TOKEN_LIFETIME_S
    token = issue_cas_token(state.secret, repo.pk, scope, expires, bearer_token(request))
    cas_url = f"{base_url(request)}{CAS_PATH}/{cas_instance(state.secret)}"  # see CasInstancePath (app.py)
    headers = {"X-Xet-Cas-Url": cas_url, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(expires)}
    return JSONResponse({"casUrl": cas_url, "accessToken": token, "exp": expires}, headers=headers)


@router.get("/api/{plural}/{namespace}/{name}/xet-write-token/{rest:path}")
def xet_write_token(request: Request, repo: ReadableRepo, identity: Caller, state: State) -> JSONResponse:
    require_upload(identity, repo)
    return cas_token_answer(request, state, repo, WRITE)


@router.get("/api/{plural}/{namespace}/{name}/xet-read-token/{rest:path}")
def xet_read_token(request: Request, repo: ReadableRepo, state: State) -> JSONResponse:
    return cas_token_answer(request, state, repo, READ)


def cas_grant(request: Request, state: State, needed: str) -> CasGrant:
    """What the request's CAS token allows now (checked against its Hub token on every request)."""
    return check_cas_token(state.store, state.secret, bearer_token(request), needed)


def check_cas_path(prefix: str, expected_prefixes: tuple[str, ...], hash_hex: str) -> None:
    if prefix not in expected_prefixes:
        raise InvalidRequest(f"Unknown prefix {prefix!r} in a CAS path: use {expected_prefixes[0]!r}")
    xet.hash_from_hex(hash_hex)


@router.post(CAS_PATH + "/v1/xorbs/{prefix}/{hash_hex}")
async def upload_xorb(request: Request, prefix: str, hash_hex: str, state: State) -> JSONResponse:
    grant = await run_in_threadpool(cas_grant, request, state, WRITE)
    check_cas_path(prefix, ("default",), hash_hex)
    received, temp_path = state.cas.receive_xorb()
    try:
        async for part in request.stream():  # at most MAX_XORB_BYTES (limits.py)
            received.write(part)
    except BaseException:
        received.close()
        temp_path.unlink(missing_ok=True)
        raise
    inserted = await run_in_threadpool(state.cas.add_xorb, grant, hash_hex, received, temp_path)
    return JSONResponse({"was_inserted": inserted})


@router.post(CAS_PATH + "/v1/shards")
async def upload_shard(request: Request, state: State) -> JSONResponse:
    grant = await run_in_threadpool(cas_grant, request, state, WRITE)
    body = await request.body()  # at most MAX_SHARD_BYTES (limits.py)
    await run_in_threadpool(state.cas.add_shard, grant, body)
    return JSONResponse({"result": 1})


@router.get(CAS_PATH + "/v1/chunks/{prefix}/{hash_hex}")
def dedupe_query(request: Request, prefix: str, hash_hex: str, state: State) -> Response:
    grant = cas_grant(request, state, READ)
    check_cas_path(prefix, DEDUPE_PREFIXES, hash_hex)
    answer = state.cas.dedupe_shard(grant, hash_hex)
    if answer is None:
        raise NotFound(f"Chunk {hash_hex} is not known to global deduplication")
    return Response(answer, media_type="application/octet-stream")
