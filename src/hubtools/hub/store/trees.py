"""A commit's files as git-like trees: one content-addressed tree per folder, run inside a caller's transaction.

A tree's rows are its entries (`name` and either a file's fields or the `subtree` id of a folder); its id hashes the
repo and its sorted entries, so a commit writes only the trees on the paths it changed and shares every unchanged
folder with its parent. Trees belong to one repo (`repo_id`): deleting a repo or rewriting its history prunes its
trees without looking at any other repo. Folders holding no file have no tree; the empty root is `EMPTY_TREE`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from hubtools.hub.errors import Conflict
from hubtools.hub.store.models import FileEntry

EMPTY_TREE = "empty"  # the root of a commit without files: no rows, and never a `tree_id_of` (not 40 hex digits)
# Every file below a tree, with its path from the tree's top (`prefix` included), in path order.
FILES_BELOW_SQL = """
WITH RECURSIVE walk(tree_id, prefix) AS (
    SELECT :tree, :prefix
    UNION ALL
    SELECT trees.subtree, walk.prefix || trees.name || '/' FROM trees JOIN walk ON trees.tree_id = walk.tree_id
    WHERE trees.subtree IS NOT NULL)
SELECT walk.prefix || trees.name AS path, trees.sha256, trees.size, trees.is_lfs, trees.blob_id
FROM walk JOIN trees ON trees.tree_id = walk.tree_id WHERE trees.subtree IS NULL ORDER BY path
"""
# Trees of a repo that none of its commits reaches any more (after its history was rewritten).
PRUNE_SQL = """
WITH RECURSIVE reach(tree_id) AS (
    SELECT tree FROM commits WHERE repo_id = :repo
    UNION
    SELECT trees.subtree FROM trees JOIN reach ON trees.tree_id = reach.tree_id WHERE trees.subtree IS NOT NULL)
DELETE FROM trees WHERE repo_id = :repo AND tree_id NOT IN (SELECT tree_id FROM reach)
"""


@dataclass(frozen=True)
class TreeEntry:
    """One row of a tree: a file (`file` set) or a folder (`subtree` set)."""

    name: str
    subtree: str | None = None
    file: FileEntry | None = None

    def key(self) -> list:
        if self.file is None:
            return [self.name, "tree", self.subtree]
        return [self.name, "file", self.file.sha256, self.file.size, self.file.is_lfs, self.file.blob_id]


def tree_id_of(repo_pk: int, entries: Iterable[TreeEntry]) -> str:
    keys = sorted(entry.key() for entry in entries)
    return hashlib.sha1(json.dumps([repo_pk, keys]).encode()).hexdigest()


def _entry_from_row(row: sqlite3.Row, path: str) -> TreeEntry:
    if row["subtree"] is not None:
        return TreeEntry(row["name"], subtree=row["subtree"])
    file = FileEntry(path, row["sha256"], row["size"], bool(row["is_lfs"]), row["blob_id"])
    return TreeEntry(row["name"], file=file)


def tree_entries(db: sqlite3.Connection, tree_id: str, prefix: str = "") -> dict[str, TreeEntry]:
    rows = db.execute("SELECT * FROM trees WHERE tree_id = ?", (tree_id,))
    return {row["name"]: _entry_from_row(row, prefix + row["name"]) for row in rows}


def write_tree(db: sqlite3.Connection, repo_pk: int, entries: list[TreeEntry]) -> str:
    """Store one folder's tree (nothing when an identical one exists) and return its id."""
    if not entries:
        return EMPTY_TREE
    tree_id = tree_id_of(repo_pk, entries)
    if db.execute("SELECT 1 FROM trees WHERE tree_id = ? LIMIT 1", (tree_id,)).fetchone() is None:
        db.executemany(
            "INSERT INTO trees (repo_id, tree_id, name, subtree, sha256, size, is_lfs, blob_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_row_values(repo_pk, tree_id, entry) for entry in entries],
        )
    return tree_id


def _row_values(repo_pk: int, tree_id: str, entry: TreeEntry) -> tuple:
    file = entry.file
    if file is None:
        return (repo_pk, tree_id, entry.name, entry.subtree, None, None, None, None)
    return (repo_pk, tree_id, entry.name, None, file.sha256, file.size, int(file.is_lfs), file.blob_id)


def write_files(db: sqlite3.Connection, repo_pk: int, files: Iterable[FileEntry]) -> str:
    """The root tree of these files, writing the folder trees not stored yet."""
    files = list(files)
    _refuse_file_folder_conflicts({file.path for file in files})
    root: dict = {}
    for file in files:
        *folders, name = file.path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = file
    return _write_folder(db, repo_pk, root)


def _write_folder(db: sqlite3.Connection, repo_pk: int, folder: dict) -> str:
    entries = [
        TreeEntry(name, file=value) if isinstance(value, FileEntry)
        else TreeEntry(name, subtree=_write_folder(db, repo_pk, value))
        for name, value in folder.items()
    ]
    return write_tree(db, repo_pk, entries)


def _refuse_file_folder_conflicts(paths: set[str]) -> None:
    """A path cannot be both a file and a folder (`a` and `a/b`): no checkout could hold that tree."""
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in paths:
                raise Conflict(f"'{folder}' would be both a file and the folder of '{path}': delete one of them first")


def files_in_tree(db: sqlite3.Connection, tree_id: str, prefix: str = "") -> list[FileEntry]:
    rows = db.execute(FILES_BELOW_SQL, {"tree": tree_id, "prefix": prefix})
    return [FileEntry(row["path"], row["sha256"], row["size"], bool(row["is_lfs"]), row["blob_id"]) for row in rows]


def lookup(db: sqlite3.Connection, tree_id: str, path: str) -> TreeEntry | None:
    """The entry at `path` below a tree, by one indexed lookup per path component."""
    *folders, name = path.split("/")
    for folder in folders:
        row = db.execute("SELECT subtree FROM trees WHERE tree_id = ? AND name = ?", (tree_id, folder)).fetchone()
        if row is None or row["subtree"] is None:
            return None
        tree_id = row["subtree"]
    row = db.execute("SELECT * FROM trees WHERE tree_id = ? AND name = ?", (tree_id, name)).fetchone()
    return _entry_from_row(row, path) if row else None


def changed_files(db: sqlite3.Connection, old: str, new: str, prefix: str = "") -> set[str]:
    """Paths of the files added, removed or changed from tree `old` to tree `new`; shared subtrees are skipped."""
    if old == new:
        return set()
    before, after = tree_entries(db, old, prefix), tree_entries(db, new, prefix)
    changed: set[str] = set()
    for name in before.keys() | after.keys():
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        path = prefix + name
        if was is not None and now is not None and was.subtree and now.subtree:
            changed |= changed_files(db, was.subtree, now.subtree, path + "/")
            continue
        for side in (was, now):
            if side is not None and side.subtree:
                changed.update(f.path for f in files_in_tree(db, side.subtree, path + "/"))
            elif side is not None:
                changed.add(path)
    return changed


def prune_trees(db: sqlite3.Connection, repo_pk: int) -> None:
    db.execute(PRUNE_SQL, {"repo": repo_pk})


class LfsRemover:
    """Rewrites a repo's trees without some LFS objects; each tree once, however many commits share it."""

    def __init__(self, db: sqlite3.Connection, repo_pk: int, blob_ids: set[str]) -> None:
        self.db, self.repo_pk, self.blob_ids = db, repo_pk, blob_ids
        self.done: dict[str, tuple[str, int]] = {}

    def rewrite(self, tree_id: str) -> tuple[str, int]:
        """(the tree's id without those objects, how many files were removed below it)."""
        if tree_id not in self.done:
            kept: list[TreeEntry] = []
            removed = 0
            for entry in tree_entries(self.db, tree_id).values():
                if entry.file is not None and entry.file.is_lfs and entry.file.blob_id in self.blob_ids:
                    removed += 1
                    continue
                if entry.subtree is not None:
                    subtree, below = self.rewrite(entry.subtree)
                    removed += below
                    if subtree == EMPTY_TREE:
                        continue
                    entry = TreeEntry(entry.name, subtree=subtree)
                kept.append(entry)
            self.done[tree_id] = (write_tree(self.db, self.repo_pk, kept) if removed else tree_id, removed)
        return self.done[tree_id]
