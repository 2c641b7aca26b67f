"""Xet files as the download side sees them: each file's terms (chunk ranges of xorbs), recorded when its shard is
accepted, and where every chunk's bytes live once the file is in the blob store.

A file uploaded through Xet is stored once, as its blob: once every chunk of a xorb lies in the blob of a file that
uses it, the xorb file is deleted (`XetCas.add_shard`), and both the CAS downloads (`xorb_range`) and later shards
that reuse the xorb's chunks (dedupe) read those chunks from the blobs. The xorb's chunk list stays in `xet.sqlite`.
Served ranges are "virtual xorbs": the chunks in the spec's serialized form, uncompressed (scheme 0).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from hubtools.hub import xet
from hubtools.hub.errors import InvalidRequest
from hubtools.hub.store import HubStore

Connect = Callable[[], AbstractContextManager[sqlite3.Connection]]
SCHEMA = """
CREATE TABLE IF NOT EXISTS xet_files (file_hash TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS xet_files_by_sha256 ON xet_files (sha256);
CREATE TABLE IF NOT EXISTS file_terms (
    file_hash TEXT NOT NULL, idx INTEGER NOT NULL, xorb TEXT NOT NULL, chunk_start INTEGER NOT NULL,
    chunk_end INTEGER NOT NULL, file_offset INTEGER NOT NULL, PRIMARY KEY (file_hash, idx));
CREATE INDEX IF NOT EXISTS file_terms_by_xorb ON file_terms (xorb);
"""


@dataclass(frozen=True)
class XetFile:
    file_hash: str
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredTerm:
    """Chunks [chunk_start, chunk_end) of `xorb`, at `file_offset` in the file (and in its blob, `sha256`)."""

    xorb: str
    chunk_start: int
    chunk_end: int
    file_offset: int
    sha256: str = ""


@dataclass(frozen=True)
class BlobRun:
    """Consecutive chunks of a xorb, stored from byte `offset` of blob `sha256`, with these sizes."""

    sha256: str
    offset: int
    sizes: tuple[int, ...]


class XetFiles:
    def __init__(self, store: HubStore, connect: Connect) -> None:
        """`connect` opens `xet.sqlite` (XetCas's), where the xorbs' chunk lists are too."""
        self.store = store
        self._connect = connect
        with self._connect() as db:
            db.executescript(SCHEMA)

    def record(self, files: list[xet.ShardFile]) -> None:
        """Remember the terms of accepted (verified, materialized) files."""
        file_rows, term_rows = [], []
        for file in files:
            name, offset = xet.hash_hex(file.file_hash), 0
            file_rows.append((name, file.sha256, file.size))
            for index, term in enumerate(file.terms):
                term_rows.append((name, index, xet.hash_hex(term.xorb), term.chunk_start, term.chunk_end, offset))
                offset += term.unpacked_bytes
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR IGNORE INTO xet_files VALUES (?, ?, ?)", file_rows)
            db.executemany("INSERT OR IGNORE INTO file_terms VALUES (?, ?, ?, ?, ?, ?)", term_rows)
            db.execute("COMMIT")

    def hashes_of(self, sha256s: Iterable[str]) -> dict[str, str]:
        """sha256 -> Xet file hash, for the files uploaded through Xet among `sha256s`."""
        wanted = sorted(set(sha256s))
        found: dict[str, str] = {}
        with self._connect() as db:
            for start in range(0, len(wanted), 500):
                batch = wanted[start:start + 500]
                rows = db.execute(
                    f"SELECT sha256, file_hash FROM xet_files WHERE sha256 IN ({','.join('?' * len(batch))})", batch
                )
                found.update(rows.fetchall())
        return found

    def file(self, file_hash: str) -> XetFile | None:
        with self._connect() as db:
            row = db.execute("SELECT file_hash, sha256, size FROM xet_files WHERE file_hash = ?", (file_hash,)).fetchone()
        return XetFile(*row) if row else None

    def terms(self, file_hash: str) -> list[StoredTerm]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT xorb, chunk_start, chunk_end, file_offset FROM file_terms WHERE file_hash = ? ORDER BY idx",
                (file_hash,),
            ).fetchall()
        return [StoredTerm(*row) for row in rows]

    def chunk_sizes(self, xorb_hex: str) -> list[int]:
        with self._connect() as db:
            rows = db.execute("SELECT size FROM xorb_chunks WHERE xorb = ? ORDER BY idx", (xorb_hex,)).fetchall()
        return [size for (size,) in rows]

    def _sources(self, xorb_hex: str) -> list[StoredTerm]:
        """Terms over `xorb_hex` whose file's blob is in the store: where its chunks can be read."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT file_terms.xorb, chunk_start, chunk_end, file_offset, sha256 FROM file_terms"
                " JOIN xet_files ON xet_files.file_hash = file_terms.file_hash WHERE xorb = ?",
                (xorb_hex,),
            ).fetchall()
        return [term for term in (StoredTerm(*row) for row in rows) if self.store.has_blob(term.sha256)]

    def covered_by_blobs(self, xorb_hex: str) -> bool:
        """Can every chunk of the xorb be read from a blob?"""
        count = len(self.chunk_sizes(xorb_hex))
        covered = set()
        for term in self._sources(xorb_hex):
            covered.update(range(term.chunk_start, term.chunk_end))
        return count > 0 and len(covered) == count

    def blob_runs(self, xorb_hex: str, start: int, end: int) -> list[BlobRun]:
        """Where chunks [start, end) of a xorb lie in blobs, as runs of consecutive chunks; 400 for a chunk no stored
        file holds any more (its files were deleted and collected)."""
        sizes = self.chunk_sizes(xorb_hex)
        before = [0]
        for size in sizes:
            before.append(before[-1] + size)
        sources = self._sources(xorb_hex)
        runs: list[BlobRun] = []
        index = start
        while index < end:
            term = next((t for t in sources if t.chunk_start <= index < t.chunk_end), None)
            if term is None:
                raise InvalidRequest(
                    f"Chunk {index} of xorb {xorb_hex} is no longer stored: upload the file again without dedupe"
                )
            run_end = min(end, term.chunk_end)
            offset = term.file_offset + before[index] - before[term.chunk_start]
            runs.append(BlobRun(term.sha256, offset, tuple(sizes[index:run_end])))
            index = run_end
        return runs

    def read_runs(self, runs: list[BlobRun]) -> Iterator[bytes]:
        """The data of each chunk of `runs`, in order."""
        for run in runs:
            with self.store.blob_path(run.sha256).open("rb") as handle:
                handle.seek(run.offset)
                for size in run.sizes:
                    yield handle.read(size)

    def chunks_from_blobs(self, xorb_hex: str, start: int, end: int) -> Iterator[bytes]:
        """The data of chunks [start, end) of a xorb, read from the blobs of files that hold them."""
        return self.read_runs(self.blob_runs(xorb_hex, start, end))


def virtual_offsets(sizes: list[int]) -> list[int]:
    """Byte offset of each chunk (and of the end) in a xorb served uncompressed: a header then the data per chunk."""
    offsets = [0]
    for size in sizes:
        offsets.append(offsets[-1] + xet.CHUNK_HEADER.size + size)
    return offsets


def virtual_xorb_blocks(chunks: Iterable[bytes], block_bytes: int = 1 << 20) -> Iterator[bytes]:
    """Chunks serialized uncompressed, joined into blocks of about `block_bytes` (fewer, larger writes)."""
    block: list[bytes] = []
    held = 0
    for data in chunks:
        block.append(serialize_uncompressed(data))
        held += len(block[-1])
        if held >= block_bytes:
            yield b"".join(block)
            block, held = [], 0
    if block:
        yield b"".join(block)


def serialize_uncompressed(data: bytes) -> bytes:
    """One chunk in the spec's serialized form, compression scheme 0 (none)."""
    size = len(data).to_bytes(3, "little")
    return xet.CHUNK_HEADER.pack(0, size, xet.COMPRESSION_NONE, size) + data
