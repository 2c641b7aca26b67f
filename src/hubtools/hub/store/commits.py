"""Commits: applying a list of operations in one transaction, and reading files, history and last changes.

Every commit points at the root tree of its files (trees.py: unchanged folders shared with its parent), so any old
revision stays readable. Blobs are in place before the transaction that references them, so a killed upload or
server leaves every repo at its last complete commit.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from hubtools.hub.errors import EntryNotFound, InvalidRequest, PreconditionFailed, RepoNotFound, RevisionNotFound
from hubtools.hub.store.blobs import BlobStore
from hubtools.hub.store.discussions import add_event, open_pull_request
from hubtools.hub.store.models import Commit, Deletion, FileEntry, Operation, Repo
from hubtools.hub.store.rows import (
    ancestors,
    candidate_refs,
    commit_from_row,
    files_of,
    get_repo_row,
    ref_exists,
    ref_target,
    tree_of,
    write_commit,
)
from hubtools.hub.store.trees import (
    EMPTY_TREE,
    LfsRemover,
    changed_files,
    files_in_tree,
    lookup,
    prune_trees,
    write_files,
)


class CommitStore(BlobStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._changed_paths = functools.lru_cache(maxsize=64)(self._changed_paths_uncached)
        self.rewrites = 0  # history rewrites by this process (LFS file deletion): part of any cache key of a commit

    def files(self, commit_id: str) -> dict[str, FileEntry]:
        with self._connect() as db:
            return files_of(db, commit_id)

    def file_entry(self, commit_id: str, path: str) -> FileEntry | None:
        """One file of a commit, by one indexed lookup per path component, whatever the commit's size."""
        with self._connect() as db:
            entry = lookup(db, tree_of(db, commit_id), path)
        return entry.file if entry else None

    def files_below(self, commit_id: str, folder: str) -> list[FileEntry]:
        """The files under `folder/` in a commit, in path order: the folder's tree is found by lookups, then walked."""
        with self._connect() as db:
            entry = lookup(db, tree_of(db, commit_id), folder)
            return files_in_tree(db, entry.subtree, folder + "/") if entry and entry.subtree else []

    def commit(self, commit_id: str) -> Commit:
        with self._connect() as db:
            row = db.execute("SELECT * FROM commits WHERE id = ?", (commit_id,)).fetchone()
        return commit_from_row(row)

    def lfs_files(self, repo: Repo) -> list[dict]:
        """Each LFS object the repo's refs reach, once: where it was found (ref, path) and when that commit was made.
        Branches come first (main before others), then pull requests and tags; history behind each head is walked."""
        found: dict[str, dict] = {}
        with self._connect() as db:
            refs = db.execute("SELECT ref, commit_id FROM refs WHERE repo_id = ?", (repo.pk,)).fetchall()
            for ref, head in sorted(((r["ref"], r["commit_id"]) for r in refs), key=_ref_order):
                for commit_id in ancestors(db, head):
                    date = db.execute("SELECT date FROM commits WHERE id = ?", (commit_id,)).fetchone()["date"]
                    for entry in files_of(db, commit_id).values():
                        if entry.is_lfs and entry.blob_id not in found:
                            found[entry.blob_id] = {"entry": entry, "ref": ref, "date": date}
        return list(found.values())

    def delete_lfs_files(self, repo: Repo, blob_ids: list[str]) -> int:
        """Remove these LFS objects from every commit of the repo (history rewritten); returns files removed."""
        with self._write() as db:
            remover = LfsRemover(db, repo.pk, set(blob_ids))
            removed = 0
            for commit in db.execute("SELECT id, tree FROM commits WHERE repo_id = ?", (repo.pk,)).fetchall():
                tree, below = remover.rewrite(commit["tree"])
                removed += below
                db.execute("UPDATE commits SET tree = ? WHERE id = ?", (tree, commit["id"]))
            prune_trees(db, repo.pk)
        self._changed_paths.cache_clear()
        self.rewrites += 1
        return removed

    def history(self, commit_id: str, limit: int | None = None) -> list[Commit]:
        """`commit_id` and its first-parent ancestors, newest first (at most `limit`)."""
        commits: list[Commit] = []
        with self._connect() as db:
            next_id: str | None = commit_id
            while next_id and (limit is None or len(commits) < limit):
                commit = commit_from_row(db.execute("SELECT * FROM commits WHERE id = ?", (next_id,)).fetchone())
                commits.append(commit)
                next_id = commit.parent
        return commits

    def path_history(self, commit_id: str, path: str) -> list[Commit]:
        """The commits of `history(commit_id)` that changed `path` (a file or folder), newest first."""
        return [commit for commit in self.history(commit_id) if path in self._changed_paths(commit.id, commit.parent)]

    def last_commits(self, commit_id: str, paths: list[str], max_depth: int = 500) -> dict[str, Commit]:
        """For each file or folder path, the newest commit (from `commit_id` back) that changed it."""
        found: dict[str, Commit] = {}
        with self._connect() as db:
            commit = commit_from_row(db.execute("SELECT * FROM commits WHERE id = ?", (commit_id,)).fetchone())
            for _ in range(max_depth):
                changed = self._changed_paths(commit.id, commit.parent)
                for path in paths:
                    if path not in found and path in changed:
                        found[path] = commit
                if len(found) == len(paths) or commit.parent is None:
                    break
                commit = commit_from_row(db.execute("SELECT * FROM commits WHERE id = ?", (commit.parent,)).fetchone())
        return {path: found.get(path, commit) for path in paths}

    def _changed_paths_uncached(self, commit_id: str, parent: str | None) -> frozenset[str]:
        """Files a commit changed against its parent, and every folder above them (commits never change)."""
        with self._connect() as db:  # only the trees that differ are read: shared folders are skipped by id
            paths = changed_files(db, tree_of(db, parent) if parent else EMPTY_TREE, tree_of(db, commit_id))
        changed: set[str] = set()
        for path in paths:
            parts = path.split("/")
            changed.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
        return frozenset(changed)

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
                if isinstance(op, FileEntry) and not self.has_blob(op.sha256, op.size):
                    raise InvalidRequest(f"File '{op.path}' references an object that was never uploaded ({op.sha256})")
            if get_repo_row(db, repo.pk) is None:
                raise RepoNotFound(f"Repository {repo.repo_id} not found")
            ref = _branch_ref(db, repo, revision)
            head = ref_target(db, repo, ref)
            if parent_commit is not None and not head.startswith(parent_commit.lower()):
                raise PreconditionFailed(  # huggingface.co's words first: clients and scripts match them
                    "The branch was updated since you opened this page. Please refresh and try again."
                    f" (parent_commit {parent_commit} is not the head of {revision} in {repo.repo_id}: head is {head})",
                )
            pr_num = None
            if create_pr:
                pr_num = open_pull_request(db, repo, title, message, author)
                ref = f"refs/pr/{pr_num}"
            files = _apply_operations(files_of(db, head), operations)
            tree = write_files(db, repo.pk, files.values())
            commit_id = write_commit(db, repo.pk, head, author, title, message, tree)
            db.execute("INSERT OR REPLACE INTO refs VALUES (?, ?, ?)", (repo.pk, ref, commit_id))
            if ref.startswith("refs/pr/"):
                add_event(db, repo, int(ref.rsplit("/", 1)[1]), "commit", author, {"subject": title, "oid": commit_id})
        return commit_id, pr_num


def _branch_ref(db: sqlite3.Connection, repo: Repo, revision: str) -> str:
    """The ref a commit on `revision` moves: an existing branch or PR ref (commits on a bare sha are refused)."""
    for ref in candidate_refs(revision):
        if ref.startswith(("refs/heads/", "refs/pr/")) and ref_exists(db, repo, ref):
            return ref
    raise RevisionNotFound(
        f"Invalid rev id: {revision} is not a branch of {repo.repo_id}; create it with create_branch first"
    )


def _apply_operations(files: dict[str, FileEntry], operations: list[Operation]) -> dict[str, FileEntry]:
    files = dict(files)
    for op in operations:
        if isinstance(op, Deletion):
            if not op.is_folder and files.pop(op.path, None) is not None:
                continue
            prefix = op.path.rstrip("/") + "/"  # a folder, also when named like a file (as huggingface.co allows)
            doomed = [p for p in files if p.startswith(prefix)]
            if not doomed:
                raise EntryNotFound(f"{'Folder' if op.is_folder else 'File'} '{op.path}' does not exist")
            for path in doomed:
                del files[path]
        else:
            files[op.path] = op
    return files


def _ref_order(item: tuple[str, str]) -> tuple[int, str]:
    ref = item[0]
    rank = 0 if ref == "refs/heads/main" else 1 if ref.startswith("refs/heads/") else 2
    return rank, ref
