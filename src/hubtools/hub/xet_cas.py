"""The Xet CAS store of the embedded Hub: xorbs, shards, global dedupe, file reconstruction, CAS tokens (routes:
routers/xet.py).

Flow (as on huggingface.co): the client asks `/api/{type}s/{repo}/xet-write-token/{rev}` for a short-lived CAS
token, uploads xorbs (verified: every chunk re-hashed, the Merkle root must equal the xorb hash in the URL), then a
shard describing each file as terms over xorbs. A shard is accepted only if every term's xorb is stored, its
chunk range exists, its verification hash matches the stored chunk hashes, and the file's Xet hash matches; each
file is then reconstructed into the blob store with its sha256 verified and recorded as uploaded for the token's
repo, so the commit's `lfsFile` line finds the blob like any LFS upload. Downloads: xet_files.py.

Against a caller who guesses hashes: a xorb is used (global dedupe, shard terms) only through a repo the caller can
read, one it was uploaded or referenced for, so its existence elsewhere is never told; an upload is verified
before it is answered; errors never state a hash the caller did not send. A CAS token carries the hash of the Hub
token it was issued for and is refused once that token is revoked or no longer grants the access.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mmap
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hubtools.hub import xet
from hubtools.hub.auth import may_contribute, signatures_match
from hubtools.hub.errors import Conflict, Forbidden, InsufficientStorage, InvalidRequest, RepoNotFound, Unauthorized
from hubtools.hub.limits import MAX_FILE_BYTES
from hubtools.hub.store import HubStore, Identity, Repo, can_read
from hubtools.hub.store.identity import hash_token
from hubtools.hub.xet_files import XetFiles

TOKEN_PREFIX = "xet_"
TOKEN_LIFETIME_S = 3600
DEDUPE_SHARD_LIFETIME_S = 7 * 24 * 3600
MAX_DEDUPE_XORBS = 32  # xorbs per global-dedupe answer: the one holding the chunk, then its files' other xorbs
MAX_DEDUPE_CANDIDATES = 64  # xorbs holding a queried chunk that are checked for a repo the caller can read
CAS_PATH = "/xet-cas"  # the CAS API's prefix on this server
DEDUPE_PREFIXES = ("default-merkledb", "default")  # the spec names the first; hf_xet 1.8 sends the second
READ, WRITE = "read", "write"

SCHEMA = """
CREATE TABLE IF NOT EXISTS xorbs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS xorb_chunks (
    xorb TEXT NOT NULL, idx INTEGER NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (xorb, idx));
CREATE INDEX IF NOT EXISTS xorb_chunks_by_hash ON xorb_chunks (hash);
CREATE TABLE IF NOT EXISTS file_xorbs (file_hash TEXT NOT NULL, xorb TEXT NOT NULL, PRIMARY KEY (file_hash, xorb));
CREATE INDEX IF NOT EXISTS file_xorbs_by_xorb ON file_xorbs (xorb);
CREATE TABLE IF NOT EXISTS repo_xorbs (repo_id INTEGER NOT NULL, xorb TEXT NOT NULL, PRIMARY KEY (xorb, repo_id));
CREATE TABLE IF NOT EXISTS xorb_users (xorb TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (xorb, user));
"""


@dataclass(frozen=True)
class CasGrant:
    """What a valid CAS token allows: `scope` on one repo, for the holder of one Hub token (None: anonymous)."""

    repo: Repo
    scope: str
    identity: Identity | None
    token_hash: str | None  # the Hub token's, for URLs derived from this grant (signed xorb ranges)


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
        self.files = XetFiles(store, self._connect)

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

    def add_xorb(self, grant: CasGrant, hash_hex: str, received: BinaryIO, temp_path: Path) -> bool:
        """Verify a received xorb (memory-mapped), move it into place and record it for the grant's repo and user;
        False when it was already stored. The body is verified either way: answering before would confirm a guessed
        hash exists."""
        try:
            size = received.seek(0, os.SEEK_END)
            if size == 0:
                raise xet.XetFormatError("Empty xorb body")
            with mmap.mmap(received.fileno(), 0, access=mmap.ACCESS_READ) as body:
                chunks = xet.xorb_chunks(body)
            actual = xet.hash_hex(xet.merkle_root(chunks))
            if actual != hash_hex:
                raise InvalidRequest(f"Xorb hash mismatch: the URL names {hash_hex}, its chunks do not hash to it")
            inserted = not self.has_xorb(hash_hex)
            if inserted:
                target = self.xorb_path(hash_hex)
                target.parent.mkdir(exist_ok=True)
                os.replace(temp_path, target)
        finally:
            received.close()
            temp_path.unlink(missing_ok=True)
        rows = [(hash_hex, i, xet.hash_hex(h), size) for i, (h, size) in enumerate(chunks)]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if inserted:
                db.execute("INSERT OR IGNORE INTO xorbs VALUES (?, ?, ?)", (hash_hex, size, time.time()))
                db.executemany("INSERT OR IGNORE INTO xorb_chunks VALUES (?, ?, ?, ?)", rows)
            self._record_use(db, grant, [hash_hex])
            db.execute("COMMIT")
        return inserted

    @staticmethod
    def _record_use(db: sqlite3.Connection, grant: CasGrant, xorbs: list[str]) -> None:
        """The repo a xorb was uploaded or referenced for, and its user: hf_xet keeps a local shard cache per CAS URL
        and never re-sends a xorb it uploaded once, also to another repo, or after that repo was deleted."""
        db.executemany("INSERT OR IGNORE INTO repo_xorbs VALUES (?, ?)", [(grant.repo.pk, x) for x in xorbs])
        if grant.identity is not None:
            db.executemany("INSERT OR IGNORE INTO xorb_users VALUES (?, ?)", [(x, grant.identity.user) for x in xorbs])

    def readable_by(self, grant: CasGrant, xorb_hex: str) -> bool:
        """Was the xorb uploaded or referenced for the grant's repo, by its holder, or for a repo its holder can read?"""
        with self._connect() as db:
            repo_pks = [row[0] for row in db.execute("SELECT repo_id FROM repo_xorbs WHERE xorb = ?", (xorb_hex,))]
            used = grant.identity is not None and db.execute(
                "SELECT 1 FROM xorb_users WHERE xorb = ? AND user = ?", (xorb_hex, grant.identity.user)
            ).fetchone() is not None
        if used or grant.repo.pk in repo_pks:
            return True
        repos = (self.store.get_repo_by_pk(pk) for pk in repo_pks)
        return any(repo is not None and can_read(grant.identity, repo) for repo in repos)

    def chunk_list(self, hash_hex: str) -> list[tuple[bytes, int]]:
        with self._connect() as db:
            rows = db.execute("SELECT hash, size FROM xorb_chunks WHERE xorb = ? ORDER BY idx", (hash_hex,)).fetchall()
        return [(xet.hash_from_hex(h), size) for h, size in rows]

    def xorbs_holding(self, chunk_hex: str) -> list[str]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT xorb FROM xorb_chunks WHERE hash = ? LIMIT ?", (chunk_hex, MAX_DEDUPE_CANDIDATES)
            ).fetchall()
        return [row[0] for row in rows]

    def stored_xorb(self, hash_hex: str) -> xet.StoredXorb:
        with self._connect() as db:
            size = db.execute("SELECT size FROM xorbs WHERE hash = ?", (hash_hex,)).fetchone()[0]
        return xet.StoredXorb(xet.hash_from_hex(hash_hex), self.chunk_list(hash_hex), size)

    def xorbs_used_with(self, xorb_hex: str) -> list[str]:
        """The other xorbs of the files that use `xorb_hex` (what a client re-uploading them has)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT xorb FROM file_xorbs WHERE file_hash IN (SELECT file_hash FROM file_xorbs WHERE xorb = ?)"
                " AND xorb != ? LIMIT ?",
                (xorb_hex, xorb_hex, 4 * MAX_DEDUPE_XORBS),
            ).fetchall()
        return [row[0] for row in rows]

    # ------------------------------------------------------------------ shards and files

    def add_shard(self, grant: CasGrant, body: bytes) -> None:
        """Check every file of a shard against the xorbs the grant may use, then rebuild each into the blob store."""
        shard = xet.read_shard(body)
        listed = {xet.hash_hex(x.hash) for x in shard.xorbs} | {xet.hash_hex(t.xorb) for f in shard.files for t in f.terms}
        for xorb_hex in sorted(listed):
            if not self.readable_by(grant, xorb_hex):  # stored for a repo the caller cannot read: not told apart
                raise InvalidRequest(f"Shard lists xorb {xorb_hex}, which was never uploaded")
        for file in shard.files:
            self._check_file(file)
        for file in shard.files:
            self._materialize(grant.repo, file)
        rows = {(xet.hash_hex(f.file_hash), xet.hash_hex(t.xorb)) for f in shard.files for t in f.terms}
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR IGNORE INTO file_xorbs VALUES (?, ?)", sorted(rows))
            self._record_use(db, grant, sorted(listed))
            db.execute("COMMIT")
        self.files.record(shard.files)
        self._drop_xorbs_held_by_blobs({xorb for _, xorb in rows})

    def _drop_xorbs_held_by_blobs(self, xorbs: set[str]) -> None:
        """Store Xet files once: a xorb whose every chunk is in a file's blob is read from the blobs (xet_files.py)."""
        for xorb_hex in sorted(xorbs):
            if self.files.covered_by_blobs(xorb_hex):
                self.xorb_path(xorb_hex).unlink(missing_ok=True)

    def _check_file(self, file: xet.ShardFile) -> None:
        name = xet.hash_hex(file.file_hash)
        if file.sha256 is None:
            raise InvalidRequest(f"Shard file {name} has no sha256 metadata; Hub repos need it for their LFS pointers")
        if file.size > MAX_FILE_BYTES:
            raise InvalidRequest(f"Shard file {name} is {file.size} bytes; files are at most {MAX_FILE_BYTES} bytes")
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
            raise InvalidRequest(f"Shard file {name}: its terms do not hash to its Xet file hash")

    def _materialize(self, repo: Repo, file: xet.ShardFile) -> None:
        """Rebuild the file and check its sha256, even when the blob exists: a shard must not claim a hash it lacks.

        The sha256 is checked on a first pass that writes nothing, so a shard whose terms repeat a xorb to claim a
        large file under a wrong hash costs CPU bounded by MAX_FILE_BYTES, never disk; the second pass writes."""
        sha256 = file.sha256
        assert sha256 is not None  # checked in _check_file
        digest = hashlib.sha256()
        for data in self._file_bytes(file):
            digest.update(data)
        if digest.hexdigest() != sha256:
            raise InvalidRequest(f"Shard file {xet.hash_hex(file.file_hash)}: its content does not match the sha256 {sha256} it states")
        if not self.store.has_blob(sha256, file.size):
            self._write_blob(file, sha256)
        self.store.record_upload(repo, sha256)

    def _write_blob(self, file: xet.ShardFile, sha256: str) -> None:
        free = shutil.disk_usage(self.store.root).free
        if file.size > free:
            raise InsufficientStorage(f"Shard file {xet.hash_hex(file.file_hash)} needs {file.size} bytes; the Hub's disk has {free} free")
        fd, temp_path = self.store.new_temp_file()
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle:
                for data in self._file_bytes(file):
                    digest.update(data)
                    handle.write(data)
            if digest.hexdigest() != sha256:  # the xorbs changed on disk between the passes
                raise Conflict(f"Shard file {xet.hash_hex(file.file_hash)}: stored xorbs changed while it was rebuilt; retry")
            self.store.adopt_blob(temp_path, sha256)
        finally:
            temp_path.unlink(missing_ok=True)

    def _file_bytes(self, file: xet.ShardFile) -> Iterator[bytes]:
        """The file's bytes, term by term. Only the current term's xorb is mapped, so rebuilding a large file keeps
        one xorb (at most 64 MiB) resident rather than all of them; each xorb's chunk index is built once."""
        indexes: dict[str, list[xet.ChunkRef]] = {}
        for term in file.terms:
            xorb_hex = xet.hash_hex(term.xorb)
            try:
                handle = self.xorb_path(xorb_hex).open("rb")
            except FileNotFoundError:  # its chunks are in blobs now
                yield from self.files.chunks_from_blobs(xorb_hex, term.chunk_start, term.chunk_end)
                continue
            with handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
                if xorb_hex not in indexes:
                    indexes[xorb_hex] = xet.index_xorb(body)
                for ref in indexes[xorb_hex][term.chunk_start:term.chunk_end]:
                    yield ref.read(body)

    def dedupe_shard(self, grant: CasGrant, chunk_hex: str) -> bytes | None:
        """The global-dedupe answer for a chunk: a xorb holding it that the grant may read (and its files' other
        readable xorbs), chunk hashes keyed with a fresh HMAC key as the spec describes, so the answer reveals no
        chunk hash the caller lacks; None (404) when no readable xorb holds it, wherever else it may be stored."""
        xorb_hex = next((x for x in self.xorbs_holding(chunk_hex) if self.readable_by(grant, x)), None)
        if xorb_hex is None:
            return None
        others = [x for x in self.xorbs_used_with(xorb_hex) if self.readable_by(grant, x)]
        now = int(time.time())
        xorbs = [self.stored_xorb(h) for h in [xorb_hex, *others][:MAX_DEDUPE_XORBS]]
        return xet.write_dedupe_shard(xorbs, secrets.token_bytes(32), now + DEDUPE_SHARD_LIFETIME_S, now)


# ---------------------------------------------------------------------- CAS tokens


def issue_cas_token(secret: bytes, repo_pk: int, scope: str, expires: int, hub_token: str | None) -> str:
    """A signed CAS token for `scope` on one repo, naming (by hash) the Hub token it was issued for."""
    claims_json = {"repo": repo_pk, "scope": scope, "exp": expires, "sub": hash_token(hub_token) if hub_token else None}
    claims = base64.urlsafe_b64encode(json.dumps(claims_json).encode()).decode()
    return f"{TOKEN_PREFIX}{claims}.{_sign(secret, claims)}"


def cas_instance(secret: bytes) -> str:
    """This Hub root's name in its CAS URL (`/xet-cas/{instance}`): hf_xet keys its local shard cache by the CAS URL,
    so a client never dedupes against xorbs of an earlier Hub root served at the same address."""
    return hmac.new(secret, b"xet-cas-instance", hashlib.sha256).hexdigest()[:16]


def _sign(secret: bytes, claims: str) -> str:
    return hmac.new(secret, b"xet-cas:" + claims.encode(), hashlib.sha256).hexdigest()


def _token_claims(secret: bytes, token: str | None) -> dict:
    if not token or not token.startswith(TOKEN_PREFIX) or "." not in token:
        raise Unauthorized("Missing or invalid Xet access token: ask /api/.../xet-write-token/... for one")
    claims, signature = token[len(TOKEN_PREFIX):].rsplit(".", 1)
    if not signatures_match(signature, _sign(secret, claims)):
        raise Unauthorized("Invalid Xet access token: ask /api/.../xet-write-token/... for a new one")
    payload = json.loads(base64.urlsafe_b64decode(claims))
    if payload["exp"] <= time.time():
        raise Unauthorized("Expired Xet access token: refresh it")
    return payload


def check_cas_token(store: HubStore, secret: bytes, token: str | None, needed: str) -> CasGrant:
    """What a CAS token allows now: 401 when missing/invalid/expired or when its Hub token was revoked, 403 when
    the Hub token no longer grants `needed` on the repo (or a read token is used to write), 404 for a deleted repo."""
    payload = _token_claims(secret, token)
    if needed == WRITE and payload["scope"] != WRITE:
        raise Forbidden("This Xet token is read-only: ask /api/.../xet-write-token/... for a write token")
    return current_grant(store, payload["repo"], payload.get("sub"), payload["scope"], needed)


def current_grant(store: HubStore, repo_pk: int, token_hash: str | None, scope: str, needed: str) -> CasGrant:
    """What a grant issued to the Hub token `token_hash` (None: anonymous) on a repo allows now: 401 once that token
    is revoked, 404 once the repo is gone or unreadable to it, 403 when it may no longer write."""
    identity = None
    if token_hash is not None:
        identity = store.identity_by_token_hash(token_hash)
        if identity is None:
            raise Unauthorized("The Hub token this Xet token was issued for is revoked: log in again")
    repo = store.get_repo_by_pk(repo_pk)
    if repo is None or not can_read(identity, repo):
        raise RepoNotFound("The repository this Xet token was issued for no longer exists")
    if needed == WRITE and (identity is None or identity.read_only or not (identity.belongs_to(repo.namespace) or may_contribute(identity, repo))):
        raise Forbidden(f"The Hub token this Xet token was issued for can no longer write to {repo.repo_id}")
    return CasGrant(repo, scope, identity, token_hash)
