"""The Xet CAS store of the embedded Hub: xorbs, shards, global dedupe, file reconstruction, CAS tokens (routes:
routers/xet.py).

Flow (as on huggingface.co): the client asks `/api/{type}s/{repo}/xet-write-token/{rev}` for a short-lived CAS
token, uploads xorbs (verified: every chunk re-hashed, the Merkle root must equal the xorb hash in the URL), then a
shard describing each file as terms over xorbs. A shard is accepted only if every term's xorb is stored, its
chunk range exists, its verification hash matches the stored chunk hashes, and the file's Xet hash matches; each
file is then reconstructed into the blob store with its sha256 verified and recorded as uploaded for the token's
repo, so the commit's `lfsFile` line finds the blob like any LFS upload; downloads stay plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mmap
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from hubtools.hub import xet
from hubtools.hub.errors import Forbidden, InvalidRequest, RepoNotFound, Unauthorized
from hubtools.hub.store import HubStore, Repo

TOKEN_PREFIX = "xet_"
TOKEN_LIFETIME_S = 3600
DEDUPE_SHARD_LIFETIME_S = 7 * 24 * 3600
MAX_DEDUPE_XORBS = 32  # xorbs per global-dedupe answer: the one holding the chunk, then its files' other xorbs
DEDUPE_PREFIXES = ("default-merkledb", "default")  # the spec names the first; hf_xet 1.8 sends the second
READ, WRITE = "read", "write"

SCHEMA = """
CREATE TABLE IF NOT EXISTS xorbs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS xorb_chunks (
    xorb TEXT NOT NULL, idx INTEGER NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (xorb, idx));
CREATE INDEX IF NOT EXISTS xorb_chunks_by_hash ON xorb_chunks (hash);
CREATE TABLE IF NOT EXISTS file_xorbs (file_hash TEXT NOT NULL, xorb TEXT NOT NULL, PRIMARY KEY (file_hash, xorb));
CREATE INDEX IF NOT EXISTS file_xorbs_by_xorb ON file_xorbs (xorb);
"""


class XetCas:
    """Xorbs on disk by hash, their chunk lists and the files uploaded per repo in `xet.sqlite`."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self.xorb_dir = store.root / "xorbs"
        self.xorb_dir.mkdir(exist_ok=True)
        self.db_path = store.root / "xet.sqlite"
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def xorb_path(self, hash_hex: str) -> Path:
        return self.xorb_dir / hash_hex[:2] / hash_hex[2:]

    def has_xorb(self, hash_hex: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM xorbs WHERE hash = ?", (hash_hex,)).fetchone() is not None

    def xorb_count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM xorbs").fetchone()[0]

    def receive_xorb(self) -> tuple[BinaryIO, Path]:
        """A temporary file for a xorb body as it streams in (the body is never held whole in memory)."""
        fd, temp_path = self.store.new_temp_file()
        return os.fdopen(fd, "w+b"), temp_path

    def add_xorb(self, hash_hex: str, received: BinaryIO, temp_path: Path) -> bool:
        """Verify a received xorb (memory-mapped) and move it into place; False when it was already stored."""
        try:
            if self.has_xorb(hash_hex):
                return False
            size = received.seek(0, os.SEEK_END)
            if size == 0:
                raise xet.XetFormatError("Empty xorb body")
            with mmap.mmap(received.fileno(), 0, access=mmap.ACCESS_READ) as body:
                chunks = xet.xorb_chunks(body)
            actual = xet.hash_hex(xet.merkle_root(chunks))
            if actual != hash_hex:
                raise InvalidRequest(f"Xorb hash mismatch: the URL names {hash_hex}, its chunks hash to {actual}")
            target = self.xorb_path(hash_hex)
            target.parent.mkdir(exist_ok=True)
            os.replace(temp_path, target)
        finally:
            received.close()
            temp_path.unlink(missing_ok=True)
        rows = [(hash_hex, i, xet.hash_hex(h), size) for i, (h, size) in enumerate(chunks)]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR IGNORE INTO xorbs VALUES (?, ?, ?)", (hash_hex, size, time.time()))
            db.executemany("INSERT OR IGNORE INTO xorb_chunks VALUES (?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        return True

    def chunk_list(self, hash_hex: str) -> list[tuple[bytes, int]]:
        with self._connect() as db:
            rows = db.execute("SELECT hash, size FROM xorb_chunks WHERE xorb = ? ORDER BY idx", (hash_hex,)).fetchall()
        return [(xet.hash_from_hex(h), size) for h, size in rows]

    def xorb_holding(self, chunk_hex: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT xorb FROM xorb_chunks WHERE hash = ? LIMIT 1", (chunk_hex,)).fetchone()
        return row[0] if row else None

    def stored_xorb(self, hash_hex: str) -> xet.StoredXorb:
        with self._connect() as db:
            size = db.execute("SELECT size FROM xorbs WHERE hash = ?", (hash_hex,)).fetchone()[0]
        return xet.StoredXorb(xet.hash_from_hex(hash_hex), self.chunk_list(hash_hex), size)

    def xorbs_used_with(self, xorb_hex: str) -> list[str]:
        """`xorb_hex` first, then the other xorbs of the files that use it (what a client re-uploading them has)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT xorb FROM file_xorbs WHERE file_hash IN (SELECT file_hash FROM file_xorbs WHERE xorb = ?)"
                " AND xorb != ? LIMIT ?",
                (xorb_hex, xorb_hex, MAX_DEDUPE_XORBS - 1),
            ).fetchall()
        return [xorb_hex] + [row[0] for row in rows]

    # ------------------------------------------------------------------ shards and files

    def add_shard(self, repo_pk: int, body: bytes) -> None:
        """Check every file of a shard against the stored xorbs, then rebuild each into the blob store."""
        repo = self.store.get_repo_by_pk(repo_pk)
        if repo is None:
            raise RepoNotFound("The repository this Xet token was issued for no longer exists")
        shard = xet.read_shard(body)
        for xorb_entry in shard.xorbs:
            if not self.has_xorb(xet.hash_hex(xorb_entry.hash)):
                raise InvalidRequest(f"Shard lists xorb {xet.hash_hex(xorb_entry.hash)}, which was never uploaded")
        for file in shard.files:
            self._check_file(file)
        for file in shard.files:
            self._materialize(repo, file)
        rows = {(xet.hash_hex(f.file_hash), xet.hash_hex(t.xorb)) for f in shard.files for t in f.terms}
        with self._connect() as db:
            db.executemany("INSERT OR IGNORE INTO file_xorbs VALUES (?, ?)", sorted(rows))

    def _check_file(self, file: xet.ShardFile) -> None:
        name = xet.hash_hex(file.file_hash)
        if file.sha256 is None:
            raise InvalidRequest(f"Shard file {name} has no sha256 metadata; Hub repos need it for their LFS pointers")
        chunk_lists: dict[str, list[tuple[bytes, int]]] = {}
        all_chunks: list[tuple[bytes, int]] = []
        for number, term in enumerate(file.terms):
            xorb_hex = xet.hash_hex(term.xorb)
            if xorb_hex not in chunk_lists:
                chunk_lists[xorb_hex] = self.chunk_list(xorb_hex)
            chunks = chunk_lists[xorb_hex]
            if not chunks:
                raise InvalidRequest(f"Shard file {name}, term {number}: xorb {xorb_hex} was never uploaded")
            if term.chunk_end > len(chunks):
                raise InvalidRequest(f"Shard file {name}, term {number}: chunk range ends at {term.chunk_end}, xorb has {len(chunks)}")
            used = chunks[term.chunk_start:term.chunk_end]
            if sum(size for _, size in used) != term.unpacked_bytes:
                raise InvalidRequest(f"Shard file {name}, term {number}: size {term.unpacked_bytes} does not match its chunks")
            if term.verification is None or term.verification != xet.verification_hash([h for h, _ in used]):
                raise InvalidRequest(f"Shard file {name}, term {number}: missing or wrong verification hash")
            all_chunks.extend(used)
        if xet.file_hash(all_chunks) != file.file_hash:
            raise InvalidRequest(f"Shard file {name}: its terms hash to {xet.hash_hex(xet.file_hash(all_chunks))}")

    def _materialize(self, repo: Repo, file: xet.ShardFile) -> None:
        """Rebuild the file and check its sha256, even when the blob exists: a shard must not claim a hash it lacks."""
        sha256 = file.sha256
        assert sha256 is not None  # checked in _check_file
        fd, temp_path = self.store.new_temp_file()
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle:
                for data in self._file_bytes(file):
                    digest.update(data)
                    handle.write(data)
            if digest.hexdigest() != sha256:
                raise InvalidRequest(f"Shard file {xet.hash_hex(file.file_hash)}: content sha256 is {digest.hexdigest()}, the shard says {sha256}")
            self.store.adopt_blob(temp_path, sha256)
        finally:
            temp_path.unlink(missing_ok=True)
        self.store.record_upload(repo, sha256)

    def _file_bytes(self, file: xet.ShardFile) -> Iterator[bytes]:
        """The file's bytes, term by term. Only the current term's xorb is mapped, so rebuilding a large file keeps
        one xorb (at most 64 MiB) resident rather than all of them; each xorb's chunk index is built once."""
        indexes: dict[str, list[xet.ChunkRef]] = {}
        for term in file.terms:
            xorb_hex = xet.hash_hex(term.xorb)
            with self.xorb_path(xorb_hex).open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
                if xorb_hex not in indexes:
                    indexes[xorb_hex] = xet.index_xorb(body)
                for ref in indexes[xorb_hex][term.chunk_start:term.chunk_end]:
                    yield ref.read(body)

    def dedupe_shard(self, chunk_hex: str) -> bytes | None:
        """The global-dedupe answer for a chunk: the xorb holding it (and its files' other xorbs), chunk hashes keyed
        with a fresh HMAC key as the spec describes, so the answer reveals no chunk hash the caller lacks."""
        xorb_hex = self.xorb_holding(chunk_hex)
        if xorb_hex is None:
            return None
        now = int(time.time())
        xorbs = [self.stored_xorb(h) for h in self.xorbs_used_with(xorb_hex)]
        return xet.write_dedupe_shard(xorbs, secrets.token_bytes(32), now + DEDUPE_SHARD_LIFETIME_S, now)


# ---------------------------------------------------------------------- CAS tokens


def issue_cas_token(secret: bytes, repo_pk: int, scope: str, expires: int) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"repo": repo_pk, "scope": scope, "exp": expires}).encode()).decode()
    return f"{TOKEN_PREFIX}{claims}.{_sign(secret, claims)}"


def _sign(secret: bytes, claims: str) -> str:
    return hmac.new(secret, b"xet-cas:" + claims.encode(), hashlib.sha256).hexdigest()


def check_cas_token(secret: bytes, token: str | None, needed: str) -> int:
    """The repo (primary key) a CAS token was issued for; 401 when missing/invalid/expired, 403 for a read token on writes."""
    if not token or not token.startswith(TOKEN_PREFIX) or "." not in token:
        raise Unauthorized("Missing or invalid Xet access token: ask /api/.../xet-write-token/... for one")
    claims, signature = token[len(TOKEN_PREFIX):].rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(secret, claims)):
        raise Unauthorized("Invalid Xet access token: ask /api/.../xet-write-token/... for a new one")
    payload = json.loads(base64.urlsafe_b64decode(claims))
    if payload["exp"] <= time.time():
        raise Unauthorized("Expired Xet access token: refresh it")
    if needed == WRITE and payload["scope"] != WRITE:
        raise Forbidden("This Xet token is read-only: ask /api/.../xet-write-token/... for a write token")
    return payload["repo"]
