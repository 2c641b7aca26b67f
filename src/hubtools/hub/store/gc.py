"""Garbage collection: blobs no commit references, once they and their upload records are old enough."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hubtools.hub.store.blobs import BlobStore


@dataclass(frozen=True)
class GcReport:
    """What `collect_garbage` removed and kept."""

    removed_blobs: int
    removed_bytes: int
    kept_recent: int
    referenced: int


class GarbageCollector(BlobStore):
    def collect_garbage(self, min_age_seconds: float) -> GcReport:
        """Delete blobs no commit references, once they and their upload records are older than `min_age_seconds`."""
        cutoff = time.time() - min_age_seconds
        removed = removed_bytes = kept = referenced = 0
        with self._write() as db:  # no commit lands while blobs are judged
            db.execute("DELETE FROM uploads WHERE repo_id NOT IN (SELECT id FROM repos) OR created < ?", (cutoff,))
            in_use = {row[0] for row in db.execute("SELECT DISTINCT sha256 FROM files")}
            recent_uploads = {row[0] for row in db.execute("SELECT sha256 FROM uploads")}
            for blob in self.blob_dir.glob("??/*"):
                sha256 = blob.parent.name + blob.name
                if sha256 in in_use:
                    referenced += 1
                    continue
                stat = blob.stat()
                if sha256 in recent_uploads or stat.st_mtime >= cutoff:
                    kept += 1
                    continue
                blob.unlink(missing_ok=True)
                removed += 1
                removed_bytes += stat.st_size
        return GcReport(removed, removed_bytes, kept, referenced)
