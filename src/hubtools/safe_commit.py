"""Commits that are safe to retry: a commit whose answer was lost is found on the Hub, never sent twice.

A connection can drop after the Hub applied a commit and before its answer arrives. Sending the commit again would
then fail on its own `parent_commit` (412), or, without one, make a second commit or open a second pull request.
Each commit's description ends with a marker derived from what it changes (`commit_marker`), so the same planned
commit, from this run or a re-run of the same command, always carries the same marker. Before each retry, and
before opening a pull request at all, the Hub is asked whether a commit (or an open pull request) with that marker
exists; if so it is the result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from hubtools.hubclient import with_retries

MARKER_LABEL = "hubtools-commit:"
MARKER_HEX_DIGITS = 20


@dataclass(frozen=True)
class Landed:
    """A commit on the Hub: its id and, for a pull request, its URL."""

    oid: str
    pr_url: str | None = None


def commit_marker(*parts: object) -> str:
    """`hubtools-commit: <hash>` of everything that defines a planned commit (repo, revision, parent, operations)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return f"{MARKER_LABEL} {digest[:MARKER_HEX_DIGITS]}"


def find_landed_commit(api, repo_id: str, repo_type: str, revision: str, marker: str, since: str | None) -> Landed | None:
    """The commit on `revision` carrying `marker`, among those made after `since` (the parent the commit was planned on)."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        history = api.list_repo_commits(repo_id, repo_type=repo_type, revision=revision)
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return None
    for commit in history:
        if commit.commit_id == since:
            return None
        if marker in (commit.message or ""):
            return Landed(commit.commit_id)
    return None


def find_open_pull_request(api, repo_id: str, repo_type: str, marker: str) -> Landed | None:
    """An open pull request whose description (the commit description it was opened with) carries `marker`."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        pulls = list(api.get_repo_discussions(repo_id, repo_type=repo_type, discussion_type="pull_request", discussion_status="open"))
    except RepositoryNotFoundError:
        return None
    for pull in pulls:
        details = api.get_discussion_details(repo_id, pull.num, repo_type=repo_type)
        opening = next((event for event in details.events if event.type == "comment"), None)
        if opening is not None and marker in (getattr(opening, "content", "") or ""):
            head = api.list_repo_commits(repo_id, repo_type=repo_type, revision=details.git_reference or f"refs/pr/{pull.num}")[0]
            return Landed(head.commit_id, pull.url)
    return None


def commit_once(
    api,
    repo_id: str,
    operations: Sequence,
    *,
    repo_type: str,
    revision: str,
    commit_message: str,
    description: str,
    marker: str,
    parent_commit: str | None,
    create_pr: bool,
    describe: str,
) -> Landed:
    """`create_commit` with the marker appended to `description`, retried on network faults and 5xx
    (`with_retries`); a commit or pull request with the marker that is already there is returned instead."""

    def find() -> Landed | None:
        if create_pr:
            return find_open_pull_request(api, repo_id, repo_type, marker)
        return find_landed_commit(api, repo_id, repo_type, revision, marker, parent_commit)

    first_attempt = True

    def attempt() -> Landed:
        nonlocal first_attempt
        landed = find() if create_pr or not first_attempt else None
        first_attempt = False
        if landed is not None:
            return landed
        info = api.create_commit(
            repo_id,
            operations,
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message,
            commit_description=f"{description}\n\n{marker}",
            parent_commit=parent_commit,
        )
        return Landed(info.oid, info.pr_url)

    return with_retries(attempt, describe, api.endpoint)
