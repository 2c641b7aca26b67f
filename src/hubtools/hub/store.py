"""Storage of the embedded Hub: SQLite for users, tokens, repos, commits and refs; blobs on disk by sha256.

Every commit stores the full list of its files (path -> blob), so any old revision stays readable.
Blobs are written to a temporary file and renamed into place before the SQLite transaction that
references them, so a killed upload or server leaves every repo at its last complete commit.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO_TYPES = ("model", "dataset", "space")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
DEFAULT_BRANCH = "main"
LFS_POINTER_TEMPLATE = "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n"
INITIAL_GITATTRIBUTES = b"""*.bin filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (user TEXT NOT NULL, org TEXT NOT NULL, PRIMARY KEY (user, org));
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, read_only INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    private INTEGER NOT NULL, sdk TEXT, created REAL NOT NULL, pr_counter INTEGER NOT NULL DEFAULT 0,
    UNIQUE (type, namespace, name));
CREATE TABLE IF NOT EXISTS commits (
    id TEXT PRIMARY KEY, repo_id INTEGER NOT NULL, parent TEXT, author TEXT NOT NULL, title TEXT NOT NULL,
    message TEXT NOT NULL, date REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    commit_id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    is_lfs INTEGER NOT NULL, blob_id TEXT NOT NULL, PRIMARY KEY (commit_id, path));
CREATE TABLE IF NOT EXISTS refs (
    repo_id INTEGER NOT NULL, ref TEXT NOT NULL, commit_id TEXT NOT NULL, PRIMARY KEY (repo_id, ref));
CREATE TABLE IF NOT EXISTS pull_requests (
    repo_id INTEGER NOT NULL, num INTEGER NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
    author TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (repo_id, num));
CREATE TABLE IF NOT EXISTS discussion_events (
    id TEXT PRIMARY KEY, repo_id INTEGER NOT NULL, num INTEGER NOT NULL, type TEXT NOT NULL, author TEXT NOT NULL,
    created REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    repo_id INTEGER NOT NULL, sha256 TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (repo_id, sha256));
CREATE INDEX IF NOT EXISTS files_by_sha256 ON files (sha256);
CREATE TABLE IF NOT EXISTS space_settings (
    repo_id INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, description TEXT,
    updated REAL NOT NULL, PRIMARY KEY (repo_id, kind, key));
"""
# Columns added after the first release: added in place to existing databases (see `_add_missing_columns`).
ADDED_COLUMNS = {
    "pull_requests": {
        "is_pull_request": "INTEGER NOT NULL DEFAULT 1",
        "status": "TEXT NOT NULL DEFAULT 'open'",
        "merge_commit": "TEXT",
    },
    "commits": {"merge_parent": "TEXT"},
}
DISCUSSION_STATUSES = ("open", "closed")
# Paths whose entry differs between a commit and its parent (added, removed or changed), both directions.
CHANGED_PATHS_SQL = """
SELECT path FROM files AS mine WHERE commit_id = :commit AND NOT EXISTS (
    SELECT 1 FROM files AS theirs WHERE theirs.commit_id = :parent AND theirs.path = mine.path
    AND theirs.sha256 = mine.sha256 AND theirs.size = mine.size AND theirs.is_lfs = mine.is_lfs
    AND theirs.blob_id = mine.blob_id)
UNION
SELECT path FROM files AS theirs WHERE commit_id = :parent AND NOT EXISTS (
    SELECT 1 FROM files AS mine WHERE mine.commit_id = :commit AND mine.path = theirs.path)
"""


class StoreError(Exception):
    """A refused operation; `code` is the HTTP status, `error_code` the Hub's X-Error-Code when there is one."""

    def __init__(self, code: int, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.error_code = error_code


@dataclass(frozen=True)
class Repo:
    pk: int
    type: str
    namespace: str
    name: str
    private: bool
    sdk: str | None
    created: float

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def url_prefix(self) -> str:
        return "" if self.type == "model" else f"{self.type}s/"


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int
    is_lfs: bool
    blob_id: str

    def pointer(self) -> str:
        return LFS_POINTER_TEMPLATE.format(oid=self.sha256, size=self.size)


@dataclass(frozen=True)
class Commit:
    id: str
    parent: str | None
    author: str
    title: str
    message: str
    date: float
    merge_parent: str | None = None

    @property
    def parents(self) -> list[str]:
        return [p for p in (self.parent, self.merge_parent) if p]


@dataclass(frozen=True)
class Identity:
    user: str
    orgs: tuple[str, ...]
    read_only: bool

    def belongs_to(self, namespace: str) -> bool:
        return namespace == self.user or namespace in self.orgs


def can_read(identity: Identity | None, repo: Repo) -> bool:
    return not repo.private or (identity is not None and identity.belongs_to(repo.namespace))


@dataclass(frozen=True)
class GcReport:
    """What `collect_garbage` removed and kept."""

    removed_blobs: int
    removed_bytes: int
    kept_recent: int
    referenced: int


@dataclass(frozen=True)
class SpaceSetting:
    key: str
    value: str
    description: str | None
    updated: float


@dataclass(frozen=True)
class Addition:
    path: str
    sha256: str
    size: int
    is_lfs: bool
    blob_id: str


@dataclass(frozen=True)
class Deletion:
    path: str
    is_folder: bool


Operation = Addition | Deletion


def git_blob_id(content: bytes) -> str:
    """The id git gives a blob: sha1 of a `blob <size>\\0` header followed by the content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def git_blob_id_of_file(path: Path, size: int) -> str:
    """`git_blob_id` of a file's content, read in blocks."""
    digest = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lfs_blob_id(sha256: str, size: int) -> str:
    return git_blob_id(LFS_POINTER_TEMPLATE.format(oid=sha256, size=size).encode())


def iso(timestamp: float) -> str:
    """A timestamp as the Hub writes dates: `2024-05-01T12:00:00.000Z`."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hubtools" / "hub"


class HubStore:
    """All state of one embedded Hub, rooted at a directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "hub.sqlite"
        self._changed_paths = functools.lru_cache(maxsize=64)(self._changed_paths_uncached)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            _add_missing_columns(db)

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One serialized write transaction: committed on success, rolled back on any error."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------------ blobs

    def blob_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / sha256[2:]

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        path = self.blob_path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def clear_temp(self) -> None:
        """Remove partial uploads left by a killed server; called when a server starts."""
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)

    def new_temp_file(self) -> tuple[int, Path]:
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        return fd, Path(name)

    def adopt_blob(self, temp_path: Path, sha256: str) -> None:
        """Move a fully written and verified temporary file into the blob store (atomic rename)."""
        target = self.blob_path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.replace(temp_path, target)

    def put_bytes(self, content: bytes) -> Addition:
        """Store small content (inline commit files) and describe it as a regular (non-LFS) file."""
        sha256 = hashlib.sha256(content).hexdigest()
        if not self.has_blob(sha256, len(content)):
            fd, temp_path = self.new_temp_file()
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            self.adopt_blob(temp_path, sha256)
        return Addition(path="", sha256=sha256, size=len(content), is_lfs=False, blob_id=git_blob_id(content))

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
                "SELECT DISTINCT repos.* FROM files JOIN commits ON files.commit_id = commits.id"
                " JOIN repos ON repos.id = commits.repo_id WHERE files.sha256 = ?",
                (sha256,),
            ).fetchall()
        return any(row["id"] == repo.pk or can_read(identity, _repo_from_row(row)) for row in holders)

    def blob_visible_to(self, sha256: str, identity: Identity | None) -> bool:
        """Is the blob held (committed or uploaded) by a repo `identity` can read? Existence is not told otherwise."""
        if not self.has_blob(sha256):
            return False
        with self._connect() as db:
            holders = db.execute(
                "SELECT repos.* FROM repos WHERE id IN (SELECT repo_id FROM uploads WHERE sha256 = ?"
                " UNION SELECT commits.repo_id FROM files JOIN commits ON files.commit_id = commits.id WHERE files.sha256 = ?)",
                (sha256, sha256),
            ).fetchall()
        return any(can_read(identity, _repo_from_row(row)) for row in holders)

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

    # ------------------------------------------------------------------ users and tokens

    def issue_token(self, user: str, orgs: tuple[str, ...] | list[str] = (), read_only: bool = False) -> str:
        token = "hf_" + secrets.token_urlsafe(30)
        now = time.time()
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (user, now))
            for org in orgs:
                db.execute("INSERT OR IGNORE INTO memberships VALUES (?, ?)", (user, org))
            db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (hash_token(token), user, int(read_only), now))
        return token

    def identity(self, token: str) -> Identity | None:
        with self._connect() as db:
            row = db.execute("SELECT user, read_only FROM tokens WHERE token_hash = ?", (hash_token(token),)).fetchone()
            if row is None:
                return None
            orgs = [r["org"] for r in db.execute("SELECT org FROM memberships WHERE user = ? ORDER BY org", (row["user"],))]
        return Identity(user=row["user"], orgs=tuple(orgs), read_only=bool(row["read_only"]))

    # ------------------------------------------------------------------ repos

    def get_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM repos WHERE type = ? AND namespace = ? AND name = ?", (repo_type, namespace, name)
            ).fetchone()
        return _repo_from_row(row) if row else None

    def get_repo_by_pk(self, pk: int) -> Repo | None:
        with self._connect() as db:
            row = _get_repo_row(db, pk)
        return _repo_from_row(row) if row else None

    def list_repos(self) -> list[Repo]:
        with self._connect() as db:
            return [_repo_from_row(row) for row in db.execute("SELECT * FROM repos ORDER BY type, namespace, name")]

    def create_repo(self, repo_type: str, namespace: str, name: str, private: bool, sdk: str | None, author: str) -> Repo:
        now = time.time()
        blob = self.put_bytes(INITIAL_GITATTRIBUTES)
        with self._write() as db:
            exists = db.execute(
                "SELECT 1 FROM repos WHERE type = ? AND namespace = ? AND name = ?", (repo_type, namespace, name)
            ).fetchone()
            if exists:
                raise StoreError(409, f"You already created this {repo_type} repo: {namespace}/{name}")
            cursor = db.execute(
                "INSERT INTO repos (type, namespace, name, private, sdk, created) VALUES (?, ?, ?, ?, ?, ?)",
                (repo_type, namespace, name, int(private), sdk, now),
            )
            repo_pk = cursor.lastrowid
            initial = Addition(".gitattributes", blob.sha256, blob.size, False, blob.blob_id)
            commit_id = _write_commit(db, repo_pk, None, author, "initial commit", "", [initial])
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo_pk, f"refs/heads/{DEFAULT_BRANCH}", commit_id))
        repo = self.get_repo(repo_type, namespace, name)
        assert repo is not None
        return repo

    def delete_repo(self, repo: Repo) -> None:
        with self._write() as db:
            commit_ids = [r["id"] for r in db.execute("SELECT id FROM commits WHERE repo_id = ?", (repo.pk,))]
            db.executemany("DELETE FROM files WHERE commit_id = ?", [(c,) for c in commit_ids])
            for table in ("commits", "refs", "pull_requests", "discussion_events", "space_settings", "uploads"):
                db.execute(f"DELETE FROM {table} WHERE repo_id = ?", (repo.pk,))
            db.execute("DELETE FROM repos WHERE id = ?", (repo.pk,))

    def set_private(self, repo: Repo, private: bool) -> None:
        with self._write() as db:
            db.execute("UPDATE repos SET private = ? WHERE id = ?", (int(private), repo.pk))

    # ------------------------------------------------------------------ refs and revisions

    def refs(self, repo: Repo) -> dict[str, str]:
        with self._connect() as db:
            return {r["ref"]: r["commit_id"] for r in db.execute("SELECT ref, commit_id FROM refs WHERE repo_id = ?", (repo.pk,))}

    def resolve(self, repo: Repo, revision: str) -> str:
        """A branch, tag, `refs/...` name or (possibly short) commit id -> full commit id."""
        with self._connect() as db:
            return _resolve(db, repo, revision)

    def create_branch(self, repo: Repo, branch: str, start: str | None) -> None:
        with self._write() as db:
            commit_id = _resolve(db, repo, start or DEFAULT_BRANCH)
            ref = f"refs/heads/{branch}"
            if db.execute("SELECT 1 FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone():
                raise StoreError(409, f"Reference already exists: {ref}")
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, ref, commit_id))

    def delete_branch(self, repo: Repo, branch: str) -> None:
        if branch == DEFAULT_BRANCH:
            raise StoreError(403, f"Cannot delete the default branch '{DEFAULT_BRANCH}'")
        with self._write() as db:
            deleted = db.execute(
                "DELETE FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, f"refs/heads/{branch}")
            ).rowcount
            if not deleted:
                raise StoreError(404, f"Branch '{branch}' not found in {repo.repo_id}", "RevisionNotFound")

    # ------------------------------------------------------------------ content

    def files(self, commit_id: str) -> dict[str, FileEntry]:
        with self._connect() as db:
            return _files(db, commit_id)

    def commit(self, commit_id: str) -> Commit:
        with self._connect() as db:
            row = db.execute("SELECT * FROM commits WHERE id = ?", (commit_id,)).fetchone()
        return _commit_from_row(row)

    def history(self, commit_id: str, limit: int | None = None) -> list[Commit]:
        """`commit_id` and its first-parent ancestors, newest first (at most `limit`)."""
        commits: list[Commit] = []
        with self._connect() as db:
            next_id: str | None = commit_id
            while next_id and (limit is None or len(commits) < limit):
                commit = _commit_from_row(db.execute("SELECT * FROM commits WHERE id = ?", (next_id,)).fetchone())
                commits.append(commit)
                next_id = commit.parent
        return commits

    def last_commits(self, commit_id: str, paths: list[str], max_depth: int = 500) -> dict[str, Commit]:
        """For each file or folder path, the newest commit (from `commit_id` back) that changed it."""
        found: dict[str, Commit] = {}
        with self._connect() as db:
            commit = _commit_from_row(db.execute("SELECT * FROM commits WHERE id = ?", (commit_id,)).fetchone())
            for _ in range(max_depth):
                changed = self._changed_paths(commit.id, commit.parent)
                for path in paths:
                    if path not in found and path in changed:
                        found[path] = commit
                if len(found) == len(paths) or commit.parent is None:
                    break
                commit = _commit_from_row(db.execute("SELECT * FROM commits WHERE id = ?", (commit.parent,)).fetchone())
        return {path: found.get(path, commit) for path in paths}

    def _changed_paths_uncached(self, commit_id: str, parent: str | None) -> frozenset[str]:
        """Files a commit changed against its parent, and every folder above them (commits never change)."""
        with self._connect() as db:  # the diff runs in SQLite: only changed paths become Python objects
            rows = db.execute(CHANGED_PATHS_SQL, {"commit": commit_id, "parent": parent}).fetchall()
        changed: set[str] = set()
        for (path,) in rows:
            parts = path.split("/")
            changed.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
        return frozenset(changed)

    # ------------------------------------------------------------------ pull requests

    def open_discussion(self, repo: Repo, title: str, description: str, author: str, is_pull_request: bool) -> int:
        """A discussion, or a pull request in `draft` status as the Hub opens them from its API."""
        with self._write() as db:
            return _open_pull_request(db, repo, title, description, author, is_pull_request, "draft" if is_pull_request else "open")

    def discussion(self, repo: Repo, num: int) -> dict:
        """One discussion or pull request (404 when absent) with its `events`, oldest first."""
        with self._connect() as db:
            row = dict(_discussion_row(db, repo, num))
            events = db.execute(
                "SELECT * FROM discussion_events WHERE repo_id = ? AND num = ? ORDER BY created, rowid", (repo.pk, num)
            )
            row["events"] = [
                {"id": e["id"], "type": e["type"], "author": e["author"], "created": e["created"], "data": json.loads(e["data"])}
                for e in events
            ]
        return row

    def discussions(self, repo: Repo) -> list[dict]:
        """The repo's discussions and pull requests, newest first, each with `num_comments`."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT pull_requests.*, (SELECT COUNT(*) FROM discussion_events WHERE discussion_events.repo_id ="
                " pull_requests.repo_id AND discussion_events.num = pull_requests.num AND type = 'comment') AS num_comments"
                " FROM pull_requests WHERE repo_id = ? ORDER BY num DESC",
                (repo.pk,),
            )
            return [dict(row) for row in rows]

    def comment_discussion(self, repo: Repo, num: int, author: str, text: str) -> dict:
        with self._write() as db:
            _discussion_row(db, repo, num)
            return _add_event(db, repo, num, "comment", author, _comment_data(text, author))

    def rename_discussion(self, repo: Repo, num: int, title: str, author: str) -> dict:
        with self._write() as db:
            old_title = _discussion_row(db, repo, num)["title"]
            db.execute("UPDATE pull_requests SET title = ? WHERE repo_id = ? AND num = ?", (title, repo.pk, num))
            return _add_event(db, repo, num, "title-change", author, {"from": old_title, "to": title})

    def set_discussion_status(self, repo: Repo, num: int, status: str, author: str, comment: str | None) -> dict:
        """Open or close a discussion or PR (a merged PR stays merged); returns the status-change event."""
        if status not in DISCUSSION_STATUSES:
            raise StoreError(400, f"Invalid status {status!r}: use one of {', '.join(DISCUSSION_STATUSES)}")
        with self._write() as db:
            if _discussion_row(db, repo, num)["status"] == "merged":
                raise StoreError(400, f"Pull request #{num} of {repo.repo_id} is merged: its status cannot change")
            db.execute("UPDATE pull_requests SET status = ? WHERE repo_id = ? AND num = ?", (status, repo.pk, num))
            if comment:
                _add_event(db, repo, num, "comment", author, _comment_data(comment, author))
            return _add_event(db, repo, num, "status-change", author, {"status": status})

    def merge_pull_request(self, repo: Repo, num: int, author: str, comment: str | None) -> str:
        """Merge `refs/pr/N` into main: fast-forward when main has not moved, else a merge commit; returns the new head.

        Files changed differently on both sides refuse the merge (409) and change nothing.
        """
        with self._write() as db:
            row = _discussion_row(db, repo, num)
            if not row["is_pull_request"] or row["status"] not in ("open", "draft"):
                raise StoreError(400, f"Discussion #{num} of {repo.repo_id} is not an open pull request")
            main_ref = f"refs/heads/{DEFAULT_BRANCH}"
            main_head, pr_head = _ref_target(db, repo, main_ref), _ref_target(db, repo, f"refs/pr/{num}")
            pr_history = _ancestors(db, pr_head)
            if main_head in pr_history:
                new_head = pr_head
            else:
                main_history = set(_ancestors(db, main_head))
                base = next((c for c in pr_history if c in main_history), None)
                merged, conflicts = _merge_files(
                    _files(db, base) if base else {}, _files(db, main_head), _files(db, pr_head)
                )
                if conflicts:
                    raise StoreError(409, f"Pull request #{num} conflicts with {DEFAULT_BRANCH} in: {', '.join(conflicts[:20])}")
                new_head = _write_commit(
                    db, repo.pk, main_head, author, f"Merge refs/pr/{num}: {row['title']}", "", list(merged.values()), pr_head
                )
            db.execute("UPDATE refs SET commit_id = ? WHERE repo_id = ? AND ref = ?", (new_head, repo.pk, main_ref))
            db.execute(
                "UPDATE pull_requests SET status = 'merged', merge_commit = ? WHERE repo_id = ? AND num = ?",
                (new_head, repo.pk, num),
            )
            if comment:
                _add_event(db, repo, num, "comment", author, _comment_data(comment, author))
            _add_event(db, repo, num, "status-change", author, {"status": "merged"})
        return new_head

    # ------------------------------------------------------------------ tags and history rewriting

    def create_tag(self, repo: Repo, tag: str, revision: str) -> None:
        with self._write() as db:
            commit_id = _resolve(db, repo, revision)
            if _ref_exists(db, repo, f"refs/tags/{tag}"):
                raise StoreError(409, f"Tag '{tag}' already exists in {repo.repo_id}")
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, f"refs/tags/{tag}", commit_id))

    def delete_tag(self, repo: Repo, tag: str) -> None:
        with self._write() as db:
            if not db.execute("DELETE FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, f"refs/tags/{tag}")).rowcount:
                raise StoreError(404, f"Tag '{tag}' not found in {repo.repo_id}", "RevisionNotFound")

    def super_squash(self, repo: Repo, branch: str, message: str, author: str) -> str:
        """Replace a branch's history by one commit holding its files; commits no ref reaches any more are deleted
        (their blobs become collectable by gc). Returns the new commit id."""
        with self._write() as db:
            ref = f"refs/heads/{branch}"
            if not _ref_exists(db, repo, ref):
                raise StoreError(404, f"Branch '{branch}' not found in {repo.repo_id}", "RevisionNotFound")
            files = _files(db, _ref_target(db, repo, ref))
            commit_id = _write_commit(db, repo.pk, None, author, message, "", list(files.values()))
            db.execute("UPDATE refs SET commit_id = ? WHERE repo_id = ? AND ref = ?", (commit_id, repo.pk, ref))
            reachable = {c for (target,) in db.execute("SELECT commit_id FROM refs WHERE repo_id = ?", (repo.pk,))
                         for c in _ancestors(db, target)}
            doomed = [(c,) for (c,) in db.execute("SELECT id FROM commits WHERE repo_id = ?", (repo.pk,)) if c not in reachable]
            db.executemany("DELETE FROM files WHERE commit_id = ?", doomed)
            db.executemany("DELETE FROM commits WHERE id = ?", doomed)
        return commit_id

    # ------------------------------------------------------------------ Space secrets and variables

    def set_space_setting(self, repo: Repo, kind: str, key: str, value: str, description: str | None) -> None:
        """Add or replace a Space `secret` or `variable`; secret values leave the store only as the app's environment."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO space_settings VALUES (?, ?, ?, ?, ?, ?)",
                (repo.pk, kind, key, value, description, time.time()),
            )

    def delete_space_setting(self, repo: Repo, kind: str, key: str) -> bool:
        with self._write() as db:
            return db.execute(
                "DELETE FROM space_settings WHERE repo_id = ? AND kind = ? AND key = ?", (repo.pk, kind, key)
            ).rowcount > 0

    def space_settings(self, repo: Repo, kind: str) -> dict[str, SpaceSetting]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM space_settings WHERE repo_id = ? AND kind = ? ORDER BY key", (repo.pk, kind)
            )
            return {r["key"]: SpaceSetting(r["key"], r["value"], r["description"], r["updated"]) for r in rows}

    # ------------------------------------------------------------------ commits

    def apply_commit(
        self,
        repo: Repo,
        revision: str,
        operations: list[Operation],
        author: str,
        title: str,
        message: str,
        parent_commit: str | None = None,
        create_pr: bool = False,
    ) -> tuple[str, int | None]:
        """Commit `operations` on top of `revision` in one transaction; returns (commit id, PR number or None)."""
        with self._write() as db:  # blobs checked inside the transaction: gc (also a write) cannot remove them meanwhile
            for op in operations:
                if isinstance(op, Addition) and not self.has_blob(op.sha256, op.size):
                    raise StoreError(400, f"File '{op.path}' references an object that was never uploaded ({op.sha256})")
            if _get_repo_row(db, repo.pk) is None:
                raise StoreError(404, f"Repository {repo.repo_id} not found", "RepoNotFound")
            ref = _branch_ref(db, repo, revision)
            head = _ref_target(db, repo, ref)
            if parent_commit is not None and not head.startswith(parent_commit.lower()):
                raise StoreError(
                    412,
                    f"parent_commit {parent_commit} is not the head of {revision} in {repo.repo_id} (head is {head}):"
                    " someone committed in between; fetch the latest revision and retry",
                )
            pr_num = None
            if create_pr:
                pr_num = _open_pull_request(db, repo, title, message, author)
                ref = f"refs/pr/{pr_num}"
            files = _apply_operations(_files(db, head), operations)
            commit_id = _write_commit(db, repo.pk, head, author, title, message, list(files.values()))
            db.execute("INSERT OR REPLACE INTO refs VALUES (?, ?, ?)", (repo.pk, ref, commit_id))
            if ref.startswith("refs/pr/"):
                _add_event(db, repo, int(ref.rsplit("/", 1)[1]), "commit", author, {"subject": title, "oid": commit_id})
        return commit_id, pr_num


# ---------------------------------------------------------------------- helpers (inside a transaction)


def _repo_from_row(row: sqlite3.Row) -> Repo:
    return Repo(row["id"], row["type"], row["namespace"], row["name"], bool(row["private"]), row["sdk"], row["created"])


def _commit_from_row(row: sqlite3.Row) -> Commit:
    return Commit(row["id"], row["parent"], row["author"], row["title"], row["message"], row["date"], row["merge_parent"])


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, definition in columns.items():
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _get_repo_row(db: sqlite3.Connection, repo_pk: int) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM repos WHERE id = ?", (repo_pk,)).fetchone()


def _files(db: sqlite3.Connection, commit_id: str) -> dict[str, FileEntry]:
    rows = db.execute("SELECT * FROM files WHERE commit_id = ? ORDER BY path", (commit_id,))
    return {r["path"]: FileEntry(r["path"], r["sha256"], r["size"], bool(r["is_lfs"]), r["blob_id"]) for r in rows}


def _candidate_refs(revision: str) -> list[str]:
    if revision.startswith("refs/"):
        return [revision]
    return [f"refs/heads/{revision}", f"refs/tags/{revision}"]


def _resolve(db: sqlite3.Connection, repo: Repo, revision: str) -> str:
    for ref in _candidate_refs(revision):
        row = db.execute("SELECT commit_id FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone()
        if row:
            return row["commit_id"]
    if 7 <= len(revision) <= 40 and all(c in "0123456789abcdef" for c in revision.lower()):
        rows = db.execute(
            "SELECT id FROM commits WHERE repo_id = ? AND id LIKE ?", (repo.pk, revision.lower() + "%")
        ).fetchall()
        if len(rows) == 1:
            return rows[0]["id"]
    raise StoreError(404, f"Invalid rev id: {revision} in {repo.repo_id}", "RevisionNotFound")


def _branch_ref(db: sqlite3.Connection, repo: Repo, revision: str) -> str:
    """The ref a commit on `revision` moves: an existing branch or PR ref (commits on a bare sha are refused)."""
    for ref in _candidate_refs(revision):
        if ref.startswith(("refs/heads/", "refs/pr/")) and _ref_exists(db, repo, ref):
            return ref
    raise StoreError(
        404, f"Invalid rev id: {revision} is not a branch of {repo.repo_id}; create it with create_branch first",
        "RevisionNotFound",
    )


def _ref_exists(db: sqlite3.Connection, repo: Repo, ref: str) -> bool:
    return db.execute("SELECT 1 FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone() is not None


def _ref_target(db: sqlite3.Connection, repo: Repo, ref: str) -> str:
    return db.execute("SELECT commit_id FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone()["commit_id"]


def _open_pull_request(
    db: sqlite3.Connection, repo: Repo, title: str, description: str, author: str, is_pull_request: bool = True,
    status: str = "open",
) -> int:
    """A discussion numbered like the Hub (one counter for discussions and PRs); a PR gets `refs/pr/N` at main."""
    num = db.execute("SELECT pr_counter FROM repos WHERE id = ?", (repo.pk,)).fetchone()["pr_counter"] + 1
    db.execute("UPDATE repos SET pr_counter = ? WHERE id = ?", (num, repo.pk))
    db.execute(
        "INSERT INTO pull_requests (repo_id, num, title, description, author, created, is_pull_request, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (repo.pk, num, title, description, author, time.time(), int(is_pull_request), status),
    )
    _add_event(db, repo, num, "comment", author, _comment_data(description, author))
    if is_pull_request:
        head = _ref_target(db, repo, f"refs/heads/{DEFAULT_BRANCH}")
        db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, f"refs/pr/{num}", head))
    return num


def _comment_data(text: str, author: str) -> dict:
    return {"edited": False, "hidden": False, "numEdits": 0, "history": [],
            "latest": {"raw": text, "html": html.escape(text), "updatedAt": time.time(), "author": author}}


def _add_event(db: sqlite3.Connection, repo: Repo, num: int, kind: str, author: str, data: dict) -> dict:
    event = {"id": secrets.token_hex(12), "type": kind, "author": author, "created": time.time(), "data": data}
    db.execute(
        "INSERT INTO discussion_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event["id"], repo.pk, num, kind, author, event["created"], json.dumps(data)),
    )
    return event


def _discussion_row(db: sqlite3.Connection, repo: Repo, num: int) -> sqlite3.Row:
    row = db.execute("SELECT * FROM pull_requests WHERE repo_id = ? AND num = ?", (repo.pk, num)).fetchone()
    if row is None:
        raise StoreError(404, f"Discussion #{num} not found in {repo.repo_id}", "DiscussionNotFound")
    return row


def _ancestors(db: sqlite3.Connection, commit_id: str) -> list[str]:
    """`commit_id` and every commit it descends from (both parents of merges), newest first."""
    seen: list[str] = []
    pending = [commit_id]
    known: set[str] = set()
    while pending:
        current = pending.pop(0)
        if current in known:
            continue
        known.add(current)
        seen.append(current)
        row = db.execute("SELECT parent, merge_parent FROM commits WHERE id = ?", (current,)).fetchone()
        pending.extend(p for p in (row["parent"], row["merge_parent"]) if p)
    return seen


def _merge_files(
    base: dict[str, FileEntry], ours: dict[str, FileEntry], theirs: dict[str, FileEntry]
) -> tuple[dict[str, FileEntry], list[str]]:
    """Three-way merge of file lists: (merged files, paths both sides changed differently)."""
    merged = dict(ours)
    conflicts = []
    for path in base.keys() | theirs.keys():
        if theirs.get(path) == base.get(path):
            continue  # only our side (or nobody) changed it
        if ours.get(path) not in (base.get(path), theirs.get(path)):
            conflicts.append(path)
        elif path in theirs:
            merged[path] = theirs[path]
        else:
            merged.pop(path, None)
    return merged, sorted(conflicts)


def _apply_operations(files: dict[str, FileEntry], operations: list[Operation]) -> dict[str, FileEntry]:
    files = dict(files)
    for op in operations:
        if isinstance(op, Deletion):
            if op.is_folder:
                prefix = op.path.rstrip("/") + "/"
                doomed = [p for p in files if p.startswith(prefix)]
                if not doomed:
                    raise StoreError(404, f"Folder '{op.path}' does not exist", "EntryNotFound")
                for path in doomed:
                    del files[path]
            elif files.pop(op.path, None) is None:
                raise StoreError(404, f"File '{op.path}' does not exist", "EntryNotFound")
        else:
            files[op.path] = FileEntry(op.path, op.sha256, op.size, op.is_lfs, op.blob_id)
    return files


def _write_commit(
    db: sqlite3.Connection, repo_pk: int, parent: str | None, author: str, title: str, message: str,
    files: list[FileEntry] | list[Addition], merge_parent: str | None = None,
) -> str:
    now = time.time()
    digest = hashlib.sha1(f"{repo_pk}\n{parent}\n{merge_parent}\n{author}\n{now}\n{title}\n{message}\n".encode())
    digest.update(secrets.token_bytes(16))
    commit_id = digest.hexdigest()
    db.execute(
        "INSERT INTO commits (id, repo_id, parent, author, title, message, date, merge_parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (commit_id, repo_pk, parent, author, title, message, now, merge_parent),
    )
    db.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
        [(commit_id, f.path, f.sha256, f.size, int(f.is_lfs), f.blob_id) for f in files],
    )
    return commit_id
