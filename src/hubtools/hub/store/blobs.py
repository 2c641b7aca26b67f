"""Blobs on disk by sha256, written to a temporary file and renamed into place once verified, and who may use them.

Knowing a hash is not access to the content: a commit may reference a blob only if it was uploaded for that repo
(`uploads`) or a repo the caller can read already holds it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from hubtools.hub.store.database import Database
from hubtools.hub.store.models import FileEntry, Identity, Repo, can_read, git_blob_id
from hubtools.hub.store.rows import repo_from_row


def git_blob_id_of_file(path: Path, size: int) -> str:
    """`git_blob_id` of a file's content, read in blocks."""
    digest = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class BlobStore(Database):
    def blob_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / sha256[2:]

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        path = self.blob_path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def clear_temp(self, older_than_s: float) -> None:
        """Remove partial uploads left by a killed server; called when a server starts. Files younger than
        `older_than_s` are left alone: another process on the same root may be writing them."""
        cutoff = time.time() - older_than_s
        for leftover in self.tmp_dir.iterdir():
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink(missing_ok=True)
            except FileNotFoundError:  # renamed into the blob store by a concurrent upload since the listing
                continue

    def new_temp_file(self) -> tuple[int, Path]:
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        return fd, Path(name)

    def adopt_blob(self, temp_path: Path, sha256: str) -> None:
        """Move a fully written and verified temporary file into the blob store (atomic rename)."""
        target = self.blob_path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(temp_path, target)

    def put_bytes(self, content: bytes) -> FileEntry:
        """Store small content (inline commit files) and describe it as a regular (non-LFS) file, path not set."""
        sha256 = hashlib.sha256(content).hexdigest()
        if not self.has_blob(sha256, len(content)):
            fd, temp_path = self.new_temp_file()
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            self.adopt_blob(temp_path, sha256)
        return FileEntry(path="", sha256=sha256, size=len(content), is_lfs=False, blob_id=git_blob_id(content))

    def record_upload(self, repo: Repo, sha256: str) -> None:
        """Remember that `sha256` was uploaded (content verified) for `repo`: its commits may then reference it."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO uploads VALUES (?, ?, ?)", (repo.pk, sha256, time.time()))

    def blob_usable_by(self, repo: Repo, sha256: str, identity: Identity | None) -> bool:
        """May a commit to `repo` by `identity` reference this blob without sending it?

        Only if it was uploaded for `repo`, or a commit of a repo the caller can read already holds it: knowing a
        hash is not access to the content.
        """
        if not self.has_blob(sha256):
            return False
        with self._connect() as db:
            if db.execute("SELECT 1 FROM uploads WHERE repo_id = ? AND sha256 = ?", (repo.pk, sha256)).fetchone():
                return True
            holders = db.execute(
                "SELECT repos.* FROM repos WHERE id IN (SELECT repo_id FROM trees WHERE sha256 = ?)",
                (sha256,),
            ).fetchall()
        return any(row["id"] == repo.pk or can_read(identity, repo_from_row(row)) for row in holders)

    def blob_visible_to(self, sha256: str, identity: Identity | None) -> bool:
        """Is the blob held (committed or uploaded) by a repo `identity` can read? Existence is not told otherwise."""
        if not self.has_blob(sha256):
            return False
        with self._connect() as db:
            holders = db.execute(
                "SELECT repos.* FROM repos WHERE id IN (SELECT repo_id FROM uploads WHERE sha256 = ?"
                " UNION SELECT repo_id FROM trees WHERE sha256 = ?)",
                (sha256, sha256),
            ).fetchall()
        return any(can_read(identity, repo_from_row(row)) for row in holders)

    def repo_holds_blob(self, repo: Repo, sha256: str) -> bool:
        """Does a commit of `repo` (any revision), or an upload recorded for it, hold the blob?"""
        with self._connect() as db:
            return db.execute(
                "SELECT 1 FROM uploads WHERE repo_id = ? AND sha256 = ?"
                " UNION SELECT 1 FROM trees WHERE repo_id = ? AND sha256 = ? LIMIT 1",
                (repo.pk, sha256, repo.pk, sha256),
            ).fetchone() is not None
