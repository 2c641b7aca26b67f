"""Storage of the embedded Hub: SQLite for users, tokens, repos, commits and refs; blobs on disk by sha256.

Every commit stores the full list of its files (path -> blob), so any old revision stays readable.
Blobs are written to a temporary file and renamed into place before the SQLite transaction that
references them, so a killed upload or server leaves every repo at its last complete commit.
"""

from __future__ import annotations

import functools
import hashlib
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
CREATE TABLE IF NOT EXISTS space_settings (
    repo_id INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, description TEXT,
    updated REAL NOT NULL, PRIMARY KEY (repo_id, kind, key));
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


@dataclass(frozen=True)
class Identity:
    user: str
    orgs: tuple[str, ...]
    read_only: bool

    def belongs_to(self, namespace: str) -> bool:
        return namespace == self.user or namespace in self.orgs


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
        self._changed_paths = functools.lru_cache(maxsize=256)(self._changed_paths_uncached)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

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
            for table in ("commits", "refs", "pull_requests", "space_settings"):
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

    def history(self, commit_id: str) -> list[Commit]:
        commits = []
        with self._connect() as db:
            next_id: str | None = commit_id
            while next_id:
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
        with self._connect() as db:
            files = _files(db, commit_id)
            parent_files = _files(db, parent) if parent else {}
        changed: set[str] = set()
        for path in files.keys() | parent_files.keys():
            if files.get(path) != parent_files.get(path):
                parts = path.split("/")
                changed.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
        return frozenset(changed)

    # ------------------------------------------------------------------ pull requests

    def open_pull_request(self, repo: Repo, title: str, description: str, author: str) -> int:
        with self._write() as db:
            return _open_pull_request(db, repo, title, description, author)

    def pull_request(self, repo: Repo, num: int) -> sqlite3.Row | None:
        with self._connect() as db:
            return db.execute("SELECT * FROM pull_requests WHERE repo_id = ? AND num = ?", (repo.pk, num)).fetchone()

    def pull_requests(self, repo: Repo) -> list[dict]:
        """The repo's pull requests, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM pull_requests WHERE repo_id = ? ORDER BY num DESC", (repo.pk,))
            return [dict(row) for row in rows]

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
        for op in operations:
            if isinstance(op, Addition) and not self.has_blob(op.sha256, op.size):
                raise StoreError(400, f"File '{op.path}' references an object that was never uploaded ({op.sha256})")
        with self._write() as db:
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
        return commit_id, pr_num


# ---------------------------------------------------------------------- helpers (inside a transaction)


def _repo_from_row(row: sqlite3.Row) -> Repo:
    return Repo(row["id"], row["type"], row["namespace"], row["name"], bool(row["private"]), row["sdk"], row["created"])


def _commit_from_row(row: sqlite3.Row) -> Commit:
    return Commit(row["id"], row["parent"], row["author"], row["title"], row["message"], row["date"])


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


def _open_pull_request(db: sqlite3.Connection, repo: Repo, title: str, description: str, author: str) -> int:
    num = db.execute("SELECT pr_counter FROM repos WHERE id = ?", (repo.pk,)).fetchone()["pr_counter"] + 1
    db.execute("UPDATE repos SET pr_counter = ? WHERE id = ?", (num, repo.pk))
    db.execute("INSERT INTO pull_requests VALUES (?, ?, ?, ?, ?, ?)", (repo.pk, num, title, description, author, time.time()))
    head = _ref_target(db, repo, f"refs/heads/{DEFAULT_BRANCH}")
    db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, f"refs/pr/{num}", head))
    return num


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
    files: list[FileEntry] | list[Addition],
) -> str:
    now = time.time()
    digest = hashlib.sha1(f"{repo_pk}\n{parent}\n{author}\n{now}\n{title}\n{message}\n".encode())
    digest.update(secrets.token_bytes(16))
    commit_id = digest.hexdigest()
    db.execute("INSERT INTO commits VALUES (?, ?, ?, ?, ?, ?, ?)", (commit_id, repo_pk, parent, author, title, message, now))
    db.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
        [(commit_id, f.path, f.sha256, f.size, int(f.is_lfs), f.blob_id) for f in files],
    )
    return commit_id
