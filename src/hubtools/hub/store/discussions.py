"""Discussions and pull requests: one counter per repo for both, events (comments, status and title changes,
commits), and merging `refs/pr/N` into main."""

from __future__ import annotations

import html
import json
import secrets
import sqlite3
import time

from hubtools.hub.errors import Conflict, DiscussionNotFound, Forbidden, InvalidRequest
from hubtools.hub.store.database import Database
from hubtools.hub.store.models import DEFAULT_BRANCH, FileEntry, Repo
from hubtools.hub.store.rows import ancestors, files_of, ref_target, write_commit
from hubtools.hub.store.trees import write_files

DISCUSSION_STATUSES = ("open", "closed")


class DiscussionStore(Database):
    def open_discussion(self, repo: Repo, title: str, description: str, author: str, is_pull_request: bool) -> int:
        """A discussion, or a pull request in `draft` status as the Hub opens them from its API."""
        with self._write() as db:
            return open_pull_request(db, repo, title, description, author, is_pull_request, "draft" if is_pull_request else "open")

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
            return add_event(db, repo, num, "comment", author, _comment_data(text, author))

    def edit_comment(self, repo: Repo, num: int, comment_id: str, editor: str, text: str) -> dict:
        """Replace a comment's text (its author only); the previous text goes to its `history`."""
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM discussion_events WHERE id = ? AND repo_id = ? AND num = ? AND type = 'comment'",
                (comment_id, repo.pk, num),
            ).fetchone()
            if row is None:
                raise DiscussionNotFound(f"Comment {comment_id} not found in discussion #{num} of {repo.repo_id}")
            if row["author"] != editor:
                raise Forbidden(f"Only {row['author']}, who wrote comment {comment_id}, may edit it")
            data = json.loads(row["data"])
            latest = _comment_data(text, editor)["latest"]
            data.update(edited=True, numEdits=data["numEdits"] + 1, history=[data["latest"], *data["history"]], latest=latest)
            db.execute("UPDATE discussion_events SET data = ? WHERE id = ?", (json.dumps(data), comment_id))
        return {"id": row["id"], "type": "comment", "author": row["author"], "created": row["created"], "data": data}

    def rename_discussion(self, repo: Repo, num: int, title: str, author: str) -> dict:
        with self._write() as db:
            old_title = _discussion_row(db, repo, num)["title"]
            db.execute("UPDATE pull_requests SET title = ? WHERE repo_id = ? AND num = ?", (title, repo.pk, num))
            return add_event(db, repo, num, "title-change", author, {"from": old_title, "to": title})

    def set_discussion_status(self, repo: Repo, num: int, status: str, author: str, comment: str | None) -> dict:
        """Open or close a discussion or PR (a merged PR stays merged); returns the status-change event."""
        if status not in DISCUSSION_STATUSES:
            raise InvalidRequest(f"Invalid status {status!r}: use one of {', '.join(DISCUSSION_STATUSES)}")
        with self._write() as db:
            if _discussion_row(db, repo, num)["status"] == "merged":
                raise InvalidRequest(f"Pull request #{num} of {repo.repo_id} is merged: its status cannot change")
            db.execute("UPDATE pull_requests SET status = ? WHERE repo_id = ? AND num = ?", (status, repo.pk, num))
            if comment:
                add_event(db, repo, num, "comment", author, _comment_data(comment, author))
            return add_event(db, repo, num, "status-change", author, {"status": status})

    def merge_pull_request(self, repo: Repo, num: int, author: str, comment: str | None) -> str:
        """Merge `refs/pr/N` into main: fast-forward when main has not moved, else a merge commit; returns the new head.

        Files changed differently on both sides refuse the merge (409) and change nothing.
        """
        with self._write() as db:
            row = _discussion_row(db, repo, num)
            if not row["is_pull_request"] or row["status"] not in ("open", "draft"):
                raise InvalidRequest(f"Discussion #{num} of {repo.repo_id} is not an open pull request")
            main_ref = f"refs/heads/{DEFAULT_BRANCH}"
            main_head, pr_head = ref_target(db, repo, main_ref), ref_target(db, repo, f"refs/pr/{num}")
            pr_history = ancestors(db, pr_head)
            if main_head in pr_history:
                new_head = pr_head
            else:
                main_history = set(ancestors(db, main_head))
                base = next((c for c in pr_history if c in main_history), None)
                merged, conflicts = _merge_files(
                    files_of(db, base) if base else {}, files_of(db, main_head), files_of(db, pr_head)
                )
                if conflicts:
                    raise Conflict(f"Pull request #{num} conflicts with {DEFAULT_BRANCH} in: {', '.join(conflicts[:20])}")
                new_head = write_commit(
                    db, repo.pk, main_head, author, f"Merge refs/pr/{num}: {row['title']}", "",
                    write_files(db, repo.pk, merged.values()), pr_head,
                )
            db.execute("UPDATE refs SET commit_id = ? WHERE repo_id = ? AND ref = ?", (new_head, repo.pk, main_ref))
            db.execute(
                "UPDATE pull_requests SET status = 'merged', merge_commit = ? WHERE repo_id = ? AND num = ?",
                (new_head, repo.pk, num),
            )
            if comment:
                add_event(db, repo, num, "comment", author, _comment_data(comment, author))
            add_event(db, repo, num, "status-change", author, {"status": "merged"})
        return new_head


def open_pull_request(
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
    add_event(db, repo, num, "comment", author, _comment_data(description, author))
    if is_pull_request:
        head = ref_target(db, repo, f"refs/heads/{DEFAULT_BRANCH}")
        db.execute("INSERT INTO refs VALUES (?, ?, ?)", (repo.pk, f"refs/pr/{num}", head))
    return num


def add_event(db: sqlite3.Connection, repo: Repo, num: int, kind: str, author: str, data: dict) -> dict:
    event = {"id": secrets.token_hex(12), "type": kind, "author": author, "created": time.time(), "data": data}
    db.execute(
        "INSERT INTO discussion_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event["id"], repo.pk, num, kind, author, event["created"], json.dumps(data)),
    )
    return event


def _comment_data(text: str, author: str) -> dict:
    return {"edited": False, "hidden": False, "numEdits": 0, "history": [],
            "latest": {"raw": text, "html": html.escape(text), "updatedAt": time.time(), "author": author}}


def _discussion_row(db: sqlite3.Connection, repo: Repo, num: int) -> sqlite3.Row:
    row = db.execute("SELECT * FROM pull_requests WHERE repo_id = ? AND num = ?", (repo.pk, num)).fetchone()
    if row is None:
        raise DiscussionNotFound(f"Discussion #{num} not found in {repo.repo_id}")
    return row


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
