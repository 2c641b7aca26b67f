"""Repos and their refs: create, delete, visibility, branches, tags, resolving revisions, squashing history."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time

from hubtools.hub.errors import Conflict, Forbidden, RevisionNotFound
from hubtools.hub.store.blobs import BlobStore
from hubtools.hub.store.models import DEFAULT_BRANCH, Repo
from hubtools.hub.store.rows import (
    ancestors,
    candidate_refs,
    get_repo_row,
    ref_exists,
    ref_target,
    repo_from_row,
    resolve_in,
    tree_of,
    write_commit,
)
from hubtools.hub.store.trees import prune_trees, write_files

INITIAL_GITATTRIBUTES = b"""*.bin filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
"""
SQUASHABLE = ("refs/heads/", "refs/pr/", "refs/convert/")  # refs whose history super_squash may rewrite


class RepoStore(BlobStore):
    def get_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        """The repo `namespace/name`, whatever the case of the letters (repo ids are case-insensitive on the Hub)."""
        with self._connect() as db:
            row = _repo_row(db, repo_type, namespace, name)
        return repo_from_row(row) if row else None

    def moved_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        """The repo that `namespace/name` was renamed or transferred to, if it was."""
        with self._connect() as db:
            row = db.execute(
                "SELECT repos.* FROM repo_redirects JOIN repos ON repos.id = repo_redirects.repo_id"
                " WHERE repo_redirects.type = ? AND repo_redirects.namespace = ? AND repo_redirects.name = ?",
                (repo_type, namespace, name),
            ).fetchone()
        return repo_from_row(row) if row else None

    def move_repo(self, repo: Repo, namespace: str, name: str) -> Repo:
        """Rename or transfer `repo` to `namespace/name`; its old id keeps answering with a redirect."""
        with self._write() as db:
            if _repo_row(db, repo.type, namespace, name) is not None:
                raise Conflict(f"A {repo.type} repository called {namespace}/{name} already exists")
            db.execute("UPDATE repos SET namespace = ?, name = ? WHERE id = ?", (namespace, name, repo.pk))
            db.execute("DELETE FROM repo_redirects WHERE type = ? AND namespace = ? AND name = ?", (repo.type, namespace, name))
            db.execute("INSERT OR REPLACE INTO repo_redirects VALUES (?, ?, ?, ?)", (repo.type, repo.namespace, repo.name, repo.pk))
        return dataclasses.replace(repo, namespace=namespace, name=name)

    def get_repo_by_pk(self, pk: int) -> Repo | None:
        with self._connect() as db:
            row = get_repo_row(db, pk)
        return repo_from_row(row) if row else None

    def list_repos(self) -> list[Repo]:
        with self._connect() as db:
            return [repo_from_row(row) for row in db.execute("SELECT * FROM repos ORDER BY type, namespace, name")]

    def create_repo(self, repo_type: str, namespace: str, name: str, private: bool, sdk: str | None, author: str) -> Repo:
        now = time.time()
        initial = [dataclasses.replace(self.put_bytes(INITIAL_GITATTRIBUTES), path=".gitattributes")]
        if repo_type == "space":  # as on huggingface.co: the Space's settings live in its README's front matter
            initial.append(dataclasses.replace(self.put_bytes(space_readme(name, sdk)), path="README.md"))
        with self._write() as db:
            if _repo_row(db, repo_type, namespace, name) is not None:
                raise Conflict(f"You already created this {repo_type} repo: {namespace}/{name}")
            cursor = db.execute(
                "INSERT INTO repos (type, namespace, name, private, sdk, created) VALUES (?, ?, ?, ?, ?, ?)",
                (repo_type, namespace, name, int(private), sdk, now),
            )
            repo_pk = cursor.lastrowid
            assert repo_pk is not None
            commit_id = write_commit(db, repo_pk, None, author, "initial commit", "", write_files(db, repo_pk, initial))
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo_pk, f"refs/heads/{DEFAULT_BRANCH}", commit_id))
        repo = self.get_repo(repo_type, namespace, name)
        assert repo is not None
        return repo

    def delete_repo(self, repo: Repo) -> None:
        with self._write() as db:
            for table in (
                "trees", "commits", "refs", "pull_requests", "discussion_events", "space_settings", "uploads", "repo_redirects",
            ):
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
            return resolve_in(db, repo, revision)

    def create_branch(self, repo: Repo, branch: str, start: str | None) -> None:
        with self._write() as db:
            commit_id = resolve_in(db, repo, start or DEFAULT_BRANCH)
            ref = f"refs/heads/{branch}"
            if ref_exists(db, repo, ref):
                raise Conflict(f"Reference {ref} already exists")
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, ref, commit_id))

    def delete_branch(self, repo: Repo, branch: str) -> None:
        if branch == DEFAULT_BRANCH:
            raise Forbidden(f"Cannot delete refs/heads/{DEFAULT_BRANCH}: it is the default branch")
        with self._write() as db:
            deleted = db.execute(
                "DELETE FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, f"refs/heads/{branch}")
            ).rowcount
            if not deleted:
                raise RevisionNotFound(f"Invalid rev id: {branch} is not a branch of {repo.repo_id}")

    def create_tag(self, repo: Repo, tag: str, revision: str) -> None:
        with self._write() as db:
            commit_id = resolve_in(db, repo, revision)
            if ref_exists(db, repo, f"refs/tags/{tag}"):
                raise Conflict(f"Tag '{tag}' already exists in {repo.repo_id}")
            db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, f"refs/tags/{tag}", commit_id))

    def delete_tag(self, repo: Repo, tag: str) -> None:
        with self._write() as db:
            if not db.execute("DELETE FROM refs WHERE repo_id = ? AND ref = ?", (repo.pk, f"refs/tags/{tag}")).rowcount:
                raise RevisionNotFound(f"Tag '{tag}' not found in {repo.repo_id}")

    def super_squash(self, repo: Repo, branch: str, message: str, author: str) -> str:
        """Replace a branch's history by one commit holding its files; commits no ref reaches any more are deleted
        (their blobs become collectable by gc). Returns the new commit id."""
        with self._write() as db:
            ref = next((r for r in candidate_refs(branch) if r.startswith(SQUASHABLE) and ref_exists(db, repo, r)), None)
            if ref is None:
                raise RevisionNotFound(f"Invalid rev id: {branch} is not a branch or a refs/pr/N of {repo.repo_id}")
            commit_id = write_commit(db, repo.pk, None, author, message, "", tree_of(db, ref_target(db, repo, ref)))
            db.execute("UPDATE refs SET commit_id = ? WHERE repo_id = ? AND ref = ?", (commit_id, repo.pk, ref))
            reachable = {c for (target,) in db.execute("SELECT commit_id FROM refs WHERE repo_id = ?", (repo.pk,))
                         for c in ancestors(db, target)}
            doomed = [(c,) for (c,) in db.execute("SELECT id FROM commits WHERE repo_id = ?", (repo.pk,)) if c not in reachable]
            db.executemany("DELETE FROM commits WHERE id = ?", doomed)
            prune_trees(db, repo.pk)
        return commit_id


def _repo_row(db: sqlite3.Connection, repo_type: str, namespace: str, name: str) -> sqlite3.Row | None:
    return db.execute(
        "SELECT * FROM repos WHERE type = ? AND namespace = ? COLLATE NOCASE AND name = ? COLLATE NOCASE",
        (repo_type, namespace, name),
    ).fetchone()


def space_readme(name: str, sdk: str | None) -> bytes:
    """The README.md a new Space starts with: its title and SDK in the front matter, as huggingface.co writes it."""
    return f"---\ntitle: {json.dumps(name)}\nsdk: {json.dumps(sdk)}\npinned: false\n---\n\nCheck out the configuration reference at https://huggingface.co/docs/hub/spaces-config-reference\n".encode()
