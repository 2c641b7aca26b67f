"""Xet downloads: the CAS reconstruction API (`/xet-cas/v1/reconstructions/{file_hash}`, read token of a repo that
holds the file) and the signed xorb ranges its answers point to (served from the blob store, see xet_files.py)."""

from __future__ import annotations

import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from hubtools.hub import xet
from hubtools.hub.auth import bearer_token
from hubtools.hub.deps import State, base_url
from hubtools.hub.errors import InvalidRequest, NotFound, RangeNotSatisfiable
from hubtools.hub.xet_cas import CAS_PATH, READ, check_cas_token, current_grant
from hubtools.hub.xet_files import virtual_offsets, virtual_xorb_blocks
from hubtools.hub.xet_reconstruction import (
    FETCH_URL_LIFETIME_S, ChunkSpan, FetchGrant, check_fetch_signature, parse_range, reconstruction,
)

CHUNK_SPAN = re.compile(r"^(\d{1,9})-(\d{1,9})$")

router = APIRouter()


@router.get(CAS_PATH + "/v1/reconstructions/{file_hash}")
def get_reconstruction(request: Request, file_hash: str, state: State) -> JSONResponse:
    """The file's terms; the same 404 whether the file is unknown or not in the token's repo."""
    grant = check_cas_token(state.store, state.secret, bearer_token(request), READ)  # 404 once deleted
    xet.hash_from_hex(file_hash)
    file = state.cas.files.file(file_hash)
    if file is None or not state.store.repo_holds_blob(grant.repo, file.sha256):
        raise NotFound(f"File {file_hash} is not in the repository this Xet token was issued for")
    byte_range = parse_range(request.headers.get("range"), file.size)
    fetch = FetchGrant(grant.repo.pk, grant.token_hash or "", int(time.time()) + FETCH_URL_LIFETIME_S)
    answer = reconstruction(state.cas.files, file, byte_range, state.secret, base_url(request) + CAS_PATH, fetch)
    return JSONResponse(answer)


@router.get(CAS_PATH + "/v1/xorb-ranges/{xorb_hex}/{chunks}")
def get_xorb_range(
    request: Request, xorb_hex: str, chunks: str, expires: int, repo: int, sig: str, state: State, sub: str = ""
) -> StreamingResponse:
    """Chunks [start, end) of a xorb, uncompressed, at the byte range the reconstruction answer gave, while the
    token it was signed for may still read the repo."""
    match = CHUNK_SPAN.match(chunks)
    if match is None:
        raise InvalidRequest(f"Invalid chunk range {chunks[:40]!r}: expected start-end")
    span = ChunkSpan(xorb_hex, int(match[1]), int(match[2]))
    check_fetch_signature(state.secret, span, FetchGrant(repo, sub, expires), sig, time.time())
    current_grant(state.store, repo, sub or None, READ, READ)
    sizes = state.cas.files.chunk_sizes(xorb_hex)
    if not 0 <= span.start < span.end <= len(sizes):
        raise NotFound(f"Xorb {xorb_hex} has no chunks {chunks}")
    offsets = virtual_offsets(sizes)
    first, last = offsets[span.start], offsets[span.end] - 1
    asked = request.headers.get("range")
    if asked is not None and parse_range(asked, offsets[-1]) != (first, last + 1):
        raise RangeNotSatisfiable(f"This URL serves bytes={first}-{last} of xorb {xorb_hex}, not {asked!r}")
    runs = state.cas.files.blob_runs(xorb_hex, span.start, span.end)  # checked before the answer starts
    headers = {"Content-Range": f"bytes {first}-{last}/{offsets[-1]}", "Content-Length": str(last + 1 - first)}
    body = virtual_xorb_blocks(state.cas.files.read_runs(runs))
    return StreamingResponse(body, status_code=206 if asked else 200, media_type="application/octet-stream", headers=headers)
