"""Garbage collection: blobs no commit references, once they and their upload records are old enough.

The blob directory is scanned without the write lock, so commits keep landing meanwhile; only the candidates found
are judged again under the lock, each by indexed lookups, just before it is deleted.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hubtools.hub.store.blobs import BlobStore


@dataclass(frozen=True)
class GcReport:
    """What `collect_garbage` removed and kept."""

    removed_blobs: int
    removed_bytes: int
    kept_recent: int
    referenced: int


class GarbageCollector(BlobStore):
    def collect_garbage(self, min_age_seconds: float, after_scan: Callable[[], None] = lambda: None) -> GcReport:
        """Delete blobs no commit references, once they and their upload records are older than `min_age_seconds`.

        `after_scan` runs between the unlocked scan and the locked deletion (tests commit there)."""
        cutoff = time.time() - min_age_seconds
        with self._connect() as db:  # one read snapshot, no lock: writers go on
            db.execute("BEGIN")
            in_use = {row[0] for row in db.execute("SELECT DISTINCT sha256 FROM trees WHERE sha256 IS NOT NULL")}
            recent_uploads = {row[0] for row in db.execute(
                "SELECT sha256 FROM uploads WHERE created >= ? AND repo_id IN (SELECT id FROM repos)", (cutoff,))}
            db.execute("COMMIT")
        candidates: list[Path] = []
        referenced = kept = 0
        for blob in self.blob_dir.glob("??/*"):
            sha256 = blob.parent.name + blob.name
            if sha256 in in_use:
                referenced += 1
            elif sha256 in recent_uploads or blob.stat().st_mtime >= cutoff:
                kept += 1
            else:
                candidates.append(blob)
        after_scan()
        removed = removed_bytes = 0
        with self._write() as db:  # no commit lands while the candidates are judged again
            db.execute("DELETE FROM uploads WHERE repo_id NOT IN (SELECT id FROM repos) OR created < ?", (cutoff,))
            for blob in candidates:
                verdict = _judge(db, blob, cutoff)
                referenced += verdict == "referenced"
                kept += verdict == "recent"
                if verdict == "garbage":
                    size = blob.stat().st_size
                    blob.unlink()
                    removed += 1
                    removed_bytes += size
        return GcReport(removed, removed_bytes, kept, referenced)


def _judge(db: sqlite3.Connection, blob: Path, cutoff: float) -> str:
    """'referenced' (committed since the scan), 'recent' (uploaded again since), 'gone', or 'garbage'."""
    sha256 = blob.parent.name + blob.name
    if db.execute("SELECT 1 FROM trees WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone():
        return "referenced"
    if db.execute("SELECT 1 FROM uploads WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone():
        return "recent"  # old records were deleted just above: this one came after the cutoff
    try:
        if blob.stat().st_mtime >= cutoff:
            return "recent"
    except FileNotFoundError:
        return "gone"
    return "garbage"
