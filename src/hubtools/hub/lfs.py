"""Git LFS batch API: the client asks where to PUT each object, then streams it; sha256 and size are verified.

The upload href carries an HMAC of (oid, size) because the client PUTs without its Authorization header;
the batch call that hands out the href is the one that checks write access.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from fastapi import Request

from hubtools.hub.store import HubStore, StoreError

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


def sign(secret: bytes, oid: str, size: int) -> str:
    return hmac.new(secret, f"{oid}:{size}".encode(), hashlib.sha256).hexdigest()


def check_object(oid: object, size: object) -> tuple[str, int]:
    if not isinstance(oid, str) or not SHA256_PATTERN.match(oid):
        raise StoreError(400, f"LFS object id must be a lowercase sha256 hex digest, got {oid!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise StoreError(400, f"LFS object size must be a non-negative integer, got {size!r}")
    return oid, size


def batch_response(store: HubStore, secret: bytes, base_url: str, payload: dict) -> dict:
    """Answer an upload batch: objects already stored need no action, the others get a signed PUT href."""
    if payload.get("operation") != "upload":
        raise StoreError(400, "Only the LFS 'upload' operation is supported; download files through /resolve/")
    objects = payload.get("objects")
    if not isinstance(objects, list):
        raise StoreError(400, "LFS batch request needs an 'objects' list")
    answers = []
    for obj in objects:
        oid, size = check_object(obj.get("oid") if isinstance(obj, dict) else None, obj.get("size") if isinstance(obj, dict) else None)
        answer: dict = {"oid": oid, "size": size, "authenticated": True}
        if not store.has_blob(oid, size):
            answer["actions"] = {
                "upload": {"href": f"{base_url}/api/lfs-objects/{oid}/{size}/{sign(secret, oid, size)}", "header": {}},
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
            raise StoreError(400, f"LFS object {self.oid} is larger than the announced {self.size} bytes")
        self.digest.update(data)
        self.handle.write(data)


async def receive_object(store: HubStore, secret: bytes, request: Request, oid: str, size: int, signature: str) -> None:
    """Stream the PUT body to a temporary file, then adopt it only if its sha256 and size match."""
    check_object(oid, size)
    if not hmac.compare_digest(signature, sign(secret, oid, size)):
        raise StoreError(403, "Invalid LFS upload signature: ask the batch endpoint for a new upload URL")
    if store.has_blob(oid, size):
        async for _ in request.stream():
            pass
        return
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
            raise StoreError(400, f"LFS object {oid}: received {sink.received} bytes, expected {size}")
        if sink.digest.hexdigest() != oid:
            raise StoreError(400, f"LFS object sha256 mismatch: announced {oid}, content is {sink.digest.hexdigest()}")
        store.adopt_blob(temp_path, oid)
    finally:
        temp_path.unlink(missing_ok=True)


def verify_object(store: HubStore, payload: dict) -> None:
    oid, size = check_object(payload.get("oid"), payload.get("size"))
    if not store.has_blob(oid, size):
        raise StoreError(404, f"LFS object {oid} ({size} bytes) was not uploaded")
