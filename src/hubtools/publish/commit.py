"""One atomic commit per repo, safe to retry (`hubtools.safe_commit`), and what it left on the Hub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hubtools.errors import HubRefusedError, HubtoolsError
from hubtools.hubclient import with_retries
from hubtools.publish.options import PublishOptions
from hubtools.publish.plan import PUBLISH_MARK, RepoPlan, RepoType, repo_url
from hubtools.rundir import RunDir
from hubtools.safe_commit import commit_marker, commit_once

if TYPE_CHECKING:
    from huggingface_hub import HfApi


@dataclass
class CommitResult:
    """What one repo's commit left on the Hub."""

    plan: RepoPlan
    url: str
    commit_id: str | None = None  # None: nothing changed, no commit
    pr_url: str | None = None


def commit_plan(api: HfApi, plan: RepoPlan, *, revision: str, create_pr: bool, private: bool, commit_message: str) -> CommitResult:
    """One atomic commit with the pending operations; none at all when nothing changed.

    The repo (and the branch) are created when missing. The commit is safe to retry (`commit_once`): one whose
    answer was lost is found on the Hub, not sent twice.

    Args:
        api: the client of the Hub published to.
        plan: the repo's plan, read from the remote (`read_remote`).
        revision: the branch to commit to (created from main when missing), or the pull request's target.
        create_pr: open a pull request instead of committing to `revision`.
        private: create a missing repo private.
        commit_message: the commit's title.

    Returns:
        the repo's URL and the commit (or pull request) made; `commit_id` None when nothing changed.

    Raises:
        HubRefusedError: the Hub refused the repo, the branch or the commit.
        HubUnreachableError: the Hub did not answer after the retries; the repo is still at its parent commit.
    """
    from huggingface_hub.errors import HfHubHTTPError

    url = repo_url(api.endpoint, plan.repo_type, plan.repo_id)
    if not plan.pending():
        return CommitResult(plan, url)
    describe = f"uploading to {plan.repo_type} repo {plan.repo_id} on {api.endpoint}"
    try:
        return _create_repo_and_commit(api, plan, url, describe, revision=revision, create_pr=create_pr, private=private, commit_message=commit_message)
    except HfHubHTTPError as error:
        server_says = (error.server_message or str(error)).splitlines()[0]
        raise HubRefusedError(f"{describe}: the Hub refused ({error.response.status_code}: {server_says})") from error


def _create_repo_and_commit(
    api: HfApi, plan: RepoPlan, url: str, describe: str, *, revision: str, create_pr: bool, private: bool, commit_message: str
) -> CommitResult:
    if not plan.exists:
        with_retries(
            lambda: api.create_repo(
                plan.repo_id, repo_type=plan.repo_type, private=private, exist_ok=True,
                space_sdk="gradio" if plan.repo_type == "space" else None, space_hardware=plan.space_hardware,
            ),
            describe,
            api.endpoint,
        )
    if revision != "main" and not create_pr:
        with_retries(lambda: api.create_branch(plan.repo_id, repo_type=plan.repo_type, branch=revision, exist_ok=True), describe, api.endpoint)
    try:
        landed = commit_once(
            api,
            plan.repo_id,
            plan.operations(),
            repo_type=plan.repo_type,
            revision=revision,
            commit_message=commit_message,
            description=PUBLISH_MARK,
            marker=plan_marker(plan, revision, create_pr),
            parent_commit=plan.parent_commit if plan.exists and not create_pr else None,
            create_pr=create_pr,
            describe=describe,
        )
    except HubtoolsError as error:
        state = f"still at {plan.parent_commit[:12]}" if plan.parent_commit else "without this commit"
        raise type(error)(f"{error}; {plan.repo_id} is {state}; run the same command again to finish") from error  # keeps the family (exit status)
    return CommitResult(plan, url, commit_id=landed.oid, pr_url=landed.pr_url)


def plan_marker(plan: RepoPlan, revision: str, create_pr: bool) -> str:
    """The same for the same planned commit, in this run or a re-run of the command (see `hubtools.safe_commit`)."""
    changes = [(change.path, change.status, plan.digests[change.path].sha256 if change.path in plan.files else None) for change in plan.pending()]
    return commit_marker(plan.repo_type, plan.repo_id, revision, create_pr, plan.parent_commit, changes)


def give_space_the_token(api: HfApi, options: PublishOptions) -> None:
    """The private model's Space reads it with HF_TOKEN, stored as a Space secret (never in a file).

    Args:
        api: the client of the Hub published to.
        options: whether the model is private, its Space and the Space's read token.

    Raises:
        HubUnreachableError: the Hub did not answer after the retries.
    """
    if options.private and options.space_repo_id and options.space_token:
        with_retries(
            lambda: api.add_space_secret(options.space_repo_id, "HF_TOKEN", options.space_token, description="read-only token for the private model"),
            f"adding the HF_TOKEN secret to Space {options.space_repo_id}",
            api.endpoint,
        )


def commit_message(repo_type: RepoType, options: PublishOptions) -> str:
    """Each repo's own commit title: `--commit-message` (or the run's name) is the model's; the dataset and the
    Space say what they hold, so a model's message never lands in their history.

    Args:
        repo_type: the repo the commit goes to.
        options: `commit_message` and the run directory (whose name the default model title uses).

    Returns:
        the commit's title.
    """
    if repo_type == "dataset":
        return f"Publish the dataset {options.repo_id} is trained and evaluated on"
    if repo_type == "space":
        return f"Publish the demo Space of {options.repo_id}"
    return options.commit_message or f"Publish {RunDir(options.run_dir).root.name} with hubtools"
