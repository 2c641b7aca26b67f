"""Git LFS batch API: the client asks where to PUT each object, then streams it; sha256 and size are verified.

The upload href carries a grant because the client PUTs without its Authorization header: an HMAC of (repo, oid,
size, expiry, the hash of the Hub token the batch call was made with). The PUT is refused once the grant expires
(LFS_URL_LIFETIME_S) or its token is revoked or no longer grants the upload, so a leaked URL dies with its token. A verified upload is recorded for
its repo: only then may that repo's commits reference the blob (see `HubStore.blob_usable_by`), so knowing a
hash never gives access to another repo's content, and the batch call never tells whether a blob exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path

from fastapi import Request

from hubtools.hub.auth import require_upload, signatures_match
from hubtools.hub.errors import Forbidden, InvalidRequest, NotFound, RepoNotFound, Unauthorized
from hubtools.hub.limits import LFS_URL_LIFETIME_S
from hubtools.hub.store import HubStore, Identity, Repo

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
WRITE_BATCH_BYTES = 4 * 1024 * 1024


def load_secret(root: Path) -> bytes:
    """The server's signing key, created once per root and readable by its owner only."""
    path = Path(root) / "lfs-secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def sign(secret: bytes, repo_pk: int, oid: str, size: int, expires: int, token_hash: str) -> str:
    return hmac.new(secret, f"{repo_pk}:{oid}:{size}:{expires}:{token_hash}".encode(), hashlib.sha256).hexdigest()


def upload_grant(secret: bytes, repo_pk: int, oid: str, size: int, token_hash: str) -> str:
    """The last segment of an upload href: `{expires}.{token hash}.{signature}`."""
    expires = int(time.time()) + LFS_URL_LIFETIME_S
    return f"{expires}.{token_hash}.{sign(secret, repo_pk, oid, size, expires, token_hash)}"


def check_grant(store: HubStore, secret: bytes, repo_pk: int, oid: str, size: int, grant: str) -> Repo:
    """The repo an upload href may write to now: 403 for a forged or expired grant, 401 once its token is revoked."""
    expires, token_hash, signature = (grant.split(".") + ["", "", ""])[:3]
    if not expires.isdigit() or not signatures_match(signature, sign(secret, repo_pk, oid, size, int(expires), token_hash)):
        raise Forbidden("Invalid LFS upload signature: ask the batch endpoint for a new upload URL")
    if int(expires) <= time.time():
        raise Forbidden("This LFS upload URL has expired: ask the batch endpoint for a new upload URL")
    identity = store.identity_by_token_hash(token_hash)
    if identity is None:
        raise Unauthorized("The token this LFS upload URL was issued for is revoked: log in again and ask for a new URL")
    repo = store.get_repo_by_pk(repo_pk)
    if repo is None:
        raise RepoNotFound("The repository of this upload URL no longer exists")
    require_upload(identity, repo)
    return repo


def check_object(oid: object, size: object) -> tuple[str, int]:
    if not isinstance(oid, str) or not SHA256_PATTERN.match(oid):
        raise InvalidRequest(f"LFS object id must be a lowercase sha256 hex digest, got {oid!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidRequest(f"LFS object size must be a non-negative integer, got {size!r}")
    return oid, size


def batch_response(
    store: HubStore, secret: bytes, base_url: str, payload: dict, repo: Repo, identity: Identity, token_hash: str
) -> dict:
    """Answer an upload batch: objects this repo may already use need no action, the others get a signed PUT href
    that expires and names (by hash) the caller's token."""
    if payload.get("operation") != "upload":
        raise InvalidRequest("Only the LFS 'upload' operation is supported; download files through /resolve/")
    objects = payload.get("objects")
    if not isinstance(objects, list):
        raise InvalidRequest("LFS batch request needs an 'objects' list")
    answers = []
    for obj in objects:
        oid, size = check_object(obj.get("oid") if isinstance(obj, dict) else None, obj.get("size") if isinstance(obj, dict) else None)
        answer: dict = {"oid": oid, "size": size, "authenticated": True}
        if not (store.has_blob(oid, size) and store.blob_usable_by(repo, oid, identity)):
            href = f"{base_url}/api/lfs-objects/{repo.pk}/{oid}/{size}/{upload_grant(secret, repo.pk, oid, size, token_hash)}"
            answer["actions"] = {
                "upload": {"href": href, "header": {}},
                "verify": {"href": f"{base_url}/api/lfs-verify", "header": {}},
            }
        answers.append(answer)
    return {"transfer": "basic", "objects": answers, "hash_algo": "sha256"}


class _BlobSink:
    """Hashes and writes received bytes; runs in a worker thread so receiving and writing overlap."""

    def __init__(self, handle, oid: str, size: int) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.received = 0
        self.oid = oid
        self.size = size

    def write(self, data: bytes) -> None:
        self.received += len(data)
        if self.received > self.size:
            raise InvalidRequest(f"LFS object {self.oid} is larger than the announced {self.size} bytes")
        self.digest.update(data)
        self.handle.write(data)


async def receive_object(
    store: HubStore, secret: bytes, request: Request, repo_pk: int, oid: str, size: int, grant: str
) -> None:
    """Stream the PUT body to a temporary file, adopt it only if its sha256 and size match, record it for the repo.

    A blob the store already has is received and verified all the same (then dropped): the upload proves that
    the sender holds the content.
    """
    check_object(oid, size)
    repo = check_grant(store, secret, repo_pk, oid, size, grant)
    await _receive_verified(store, request, oid, size)
    store.record_upload(repo, oid)


async def _receive_verified(store: HubStore, request: Request, oid: str, size: int) -> None:
    loop = asyncio.get_running_loop()
    fd, temp_path = store.new_temp_file()
    pending: asyncio.Future | None = None
    try:
        with os.fdopen(fd, "wb", buffering=0) as handle:
            sink = _BlobSink(handle, oid, size)
            batch: list[bytes] = []
            batched = 0
            try:
                async for chunk in request.stream():
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= WRITE_BATCH_BYTES:
                        if pending is not None:
                            await pending
                        pending = loop.run_in_executor(None, sink.write, b"".join(batch))
                        batch, batched = [], 0
            finally:
                if pending is not None:  # never close the file under a write still running
                    await asyncio.wait([pending])
            if pending is not None:
                pending.result()
            sink.write(b"".join(batch))
        if sink.received != size:
            raise InvalidRequest(f"LFS object {oid}: received {sink.received} bytes, expected {size}")
        if sink.digest.hexdigest() != oid:
            raise InvalidRequest(f"LFS object sha256 mismatch: announced {oid}, content is {sink.digest.hexdigest()}")
        if not store.has_blob(oid, size):
            store.adopt_blob(temp_path, oid)
    finally:
        temp_path.unlink(missing_ok=True)


def verify_object(store: HubStore, payload: dict, identity: Identity) -> None:
    """Confirm an upload, but only to a caller who can read a repo holding the object."""
    oid, size = check_object(payload.get("oid"), payload.get("size"))
    if not (store.has_blob(oid, size) and store.blob_visible_to(oid, identity)):
        raise NotFound(f"LFS object {oid} ({size} bytes) was not uploaded")
