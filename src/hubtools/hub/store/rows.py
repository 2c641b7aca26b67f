"""Queries shared by the store's modules, run inside a caller's connection or transaction."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time

from hubtools.hub.errors import RevisionNotFound
from hubtools.hub.store.models import Commit, FileEntry, Repo
from hubtools.hub.store.trees import files_in_tree


def repo_from_row(row: sqlite3.Row) -> Repo:
    return Repo(row["id"], row["type"], row["namespace"], row["name"], bool(row["private"]), row["sdk"], row["created"])


def commit_from_row(row: sqlite3.Row) -> Commit:
    return Commit(row["id"], row["parent"], row["author"], row["title"], row["message"], row["date"], row["merge_parent"])


def get_repo_row(db: sqlite3.Connection, repo_pk: int) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM repos WHERE id = ?", (repo_pk,)).fetchone()


def entry_from_row(row: sqlite3.Row) -> FileEntry:
    return FileEntry(row["path"], row["sha256"], row["size"], bool(row["is_lfs"]), row["blob_id"])


def tree_of(db: sqlite3.Connection, commit_id: str) -> str:
    return db.execute("SELECT tree FROM commits WHERE id = ?", (commit_id,)).fetchone()["tree"]


def files_of(db: sqlite3.Connection, commit_id: str) -> dict[str, FileEntry]:
    return {f.path: f for f in files_in_tree(db, tree_of(db, commit_id))}


def candidate_refs(revision: str) -> list[str]:
    if revision.startswith("refs/"):
        return [revision]
    return [f"refs/heads/{revision}", f"refs/tags/{revision}"]


def resolve_in(db: sqlite3.Connection, repo: Repo, revision: str) -> str:
    """A branch, tag, `refs/...` name or (possibly short) commit id -> full commit id."""
    for ref in candidate_refs(revision):
        row = db.execute("SELECT commit_id FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone()
        if row:
            return row["commit_id"]
    if 7 <= len(revision) <= 40 and all(c in "0123456789abcdef" for c in revision.lower()):
        rows = db.execute(
            "SELECT id FROM commits WHERE repo_id = ? AND id LIKE ?", (repo.pk, revision.lower() + "%")
        ).fetchall()
        if len(rows) == 1:
            return rows[0]["id"]
    raise RevisionNotFound(f"Invalid rev id: {revision} in {repo.repo_id}")


def ref_exists(db: sqlite3.Connection, repo: Repo, ref: str) -> bool:
    return db.execute("SELECT 1 FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone() is not None


def ref_target(db: sqlite3.Connection, repo: Repo, ref: str) -> str:
    return db.execute("SELECT commit_id FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, ref)).fetchone()["commit_id"]


def ancestors(db: sqlite3.Connection, commit_id: str) -> list[str]:
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


def write_commit(
    db: sqlite3.Connection, repo_pk: int, parent: str | None, author: str, title: str, message: str,
    tree: str, merge_parent: str | None = None,
) -> str:
    """A new commit whose files are the root tree `tree` (see trees.py); returns its id."""
    now = time.time()
    digest = hashlib.sha1(f"{repo_pk}\n{parent}\n{merge_parent}\n{author}\n{now}\n{title}\n{message}\n".encode())
    digest.update(secrets.token_bytes(16))
    commit_id = digest.hexdigest()
    db.execute(
        "INSERT INTO commits (id, repo_id, parent, author, title, message, date, merge_parent, tree)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (commit_id, repo_pk, parent, author, title, message, now, merge_parent, tree),
    )
    return commit_id
