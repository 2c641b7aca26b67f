"""The SQLite database of one Hub root (`hub.sqlite`): its schema, connections and write transactions."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hubtools.hub.store.rows import entry_from_row
from hubtools.hub.store.trees import write_files

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
CREATE TABLE IF NOT EXISTS trees (
    tree_id TEXT NOT NULL, name TEXT NOT NULL, repo_id INTEGER NOT NULL, subtree TEXT, sha256 TEXT, size INTEGER,
    is_lfs INTEGER, blob_id TEXT, PRIMARY KEY (tree_id, name));
CREATE INDEX IF NOT EXISTS trees_by_sha256 ON trees (sha256);
CREATE INDEX IF NOT EXISTS trees_by_repo ON trees (repo_id);
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
CREATE TABLE IF NOT EXISTS full_names (name TEXT PRIMARY KEY, full_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS private_by_default (namespace TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS repo_redirects (
    type TEXT NOT NULL, namespace TEXT NOT NULL COLLATE NOCASE, name TEXT NOT NULL COLLATE NOCASE,
    repo_id INTEGER NOT NULL, PRIMARY KEY (type, namespace, name));
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
    "commits": {"merge_parent": "TEXT", "tree": "TEXT"},  # tree: the root tree of the commit's files (trees.py)
}


def default_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hubtools" / "hub"


class Database:
    """A Hub root: `hub.sqlite` (schema created or upgraded on open), `blobs/` and `tmp/`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "hub.sqlite"
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            _add_missing_columns(db)
        with self._write() as db:
            _files_to_trees(db)

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


def _add_missing_columns(db: sqlite3.Connection) -> None:
    for table, columns in ADDED_COLUMNS.items():
        present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, definition in columns.items():
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _files_to_trees(db: sqlite3.Connection) -> None:
    """Convert a root written before trees (a `files` row per commit and path) once, then drop the `files` table."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files'").fetchone() is None:
        return
    commits = db.execute("SELECT id, repo_id FROM commits").fetchall()
    for commit in commits:
        rows = db.execute("SELECT * FROM files WHERE commit_id = ?", (commit["id"],))
        tree = write_files(db, commit["repo_id"], (entry_from_row(row) for row in rows))
        db.execute("UPDATE commits SET tree = ? WHERE id = ?", (tree, commit["id"]))
    db.execute("DROP TABLE files")
