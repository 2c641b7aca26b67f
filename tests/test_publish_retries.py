"""Commits safe to retry: the Hub applies a commit and the answer is lost (a fault-injecting proxy in front of the real
embedded Hub); publish and `audit --pr` find their commit or pull request instead of sending it again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from huggingface_hub import ModelCard

from fault_proxy import FaultProxy
from hubtools.audit import Audit, AuditOptions, open_pull_request
from hubtools.cli.errors import EXIT_HUB_UNREACHABLE, explain
from hubtools.hubclient import hub_api
from publishing_support import copy_of_trained_run, publish_run, repo_files

ORG = "retry"


@pytest.fixture(scope="module")
def token(hub) -> str:
    return hub.token("alice", [ORG])


def _cli_publish(repo: str, run_root, endpoint: str, token: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hubtools.cli", "publish", "--repo", repo, "--run", str(run_root), "--no-space", "--no-verify", "--endpoint", endpoint],
        env={**os.environ, "HF_TOKEN": token}, capture_output=True, text=True, timeout=600,
    )


def _open_pull_requests(api, repo: str) -> list[int]:
    return [pull.num for pull in api.get_repo_discussions(repo, discussion_type="pull_request", discussion_status="open")]


def test_a_commit_that_never_arrives_exits_4_and_one_whose_answer_is_lost_exits_0_with_one_commit(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "lost-answer")
    repo = f"{ORG}/lost-answer"
    draft = run.card / "draft_notes.txt"
    run.card.mkdir(parents=True, exist_ok=True)
    draft.write_text("first draft\n", encoding="utf-8")
    publish_run(run, repo, token, space_repo_id=None)
    api = hub.api(token)
    before = [commit.commit_id for commit in api.list_repo_commits(repo)]
    draft.unlink()  # the next commit deletes a file: sent twice, it would fail on its parent (412)
    commit_request = rf"^POST /api/models/{repo}/commit/main"

    with FaultProxy(hub.endpoint, commit_request, forward=False, times=100) as proxy:
        never_arrives = _cli_publish(repo, run.root, proxy.url, token)
    assert never_arrives.returncode == EXIT_HUB_UNREACHABLE, never_arrives.stderr
    assert never_arrives.stderr.startswith(f"Error: cannot reach the Hub at {proxy.url}") and never_arrives.stderr.count("\n") == 1
    assert f"{repo} is still at {before[0][:12]}; run the same command again" in never_arrives.stderr
    assert len(proxy.lost) == 3  # hubtools.hubclient.RETRY_ATTEMPTS

    with FaultProxy(hub.endpoint, commit_request, forward=True, times=1) as proxy:
        answer_lost = _cli_publish(repo, run.root, proxy.url, token)
    assert answer_lost.returncode == 0, answer_lost.stderr
    assert len(proxy.lost) == 1
    after = [commit.commit_id for commit in api.list_repo_commits(repo)]
    assert after[1:] == before  # exactly one commit landed
    assert f"commit {after[0]}" in answer_lost.stdout
    assert "draft_notes.txt" not in repo_files(api, repo)


def test_create_pr_whose_answer_is_lost_leaves_exactly_one_open_pull_request(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "lost-pr")
    repo = f"{ORG}/lost-pr"
    publish_run(run, repo, token, space_repo_id=None)
    readme = run.card / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nProposed change.\n", encoding="utf-8")

    with FaultProxy(hub.endpoint, rf"^POST /api/models/{repo}/commit/main\?create_pr=1", times=1) as proxy:
        (first,) = publish_run(run, repo, token, space_repo_id=None, create_pr=True, endpoint=proxy.url).commits
    assert len(proxy.lost) == 1
    (again,) = publish_run(run, repo, token, space_repo_id=None, create_pr=True).commits  # the same command, run again

    api = hub.api(token)
    (number,) = _open_pull_requests(api, repo)
    assert first.pr_url.endswith(f"/{repo}/discussions/{number}") and again.pr_url.endswith(f"/{repo}/discussions/{number}")
    assert first.commit_id == again.commit_id == api.list_repo_commits(repo, revision=f"refs/pr/{number}")[0].commit_id


def test_audit_pr_whose_answer_is_lost_leaves_exactly_one_open_pull_request(hub, token, tmp_path_factory) -> None:
    repo = f"{ORG}/audited"
    api = hub.api(token)
    api.create_repo(repo)
    card_text = "---\nlicense: mit\n---\n# A classifier\n\nSome text.\n"
    head = api.upload_file(path_or_fileobj=card_text.encode(), path_in_repo="README.md", repo_id=repo).oid
    auditor = hub.token("auditor")
    audit = Audit(repo, head, missing_sections=["Limitations"])

    with FaultProxy(hub.endpoint, rf"^POST /api/models/{repo}/commit/main\?create_pr=1", times=1) as proxy:
        first = open_pull_request(hub_api(proxy.url, auditor), AuditOptions(repo, pr=True), ModelCard(card_text), audit)
    assert len(proxy.lost) == 1
    again = open_pull_request(hub.api(auditor), AuditOptions(repo, pr=True), ModelCard(card_text), audit)

    (number,) = _open_pull_requests(api, repo)
    assert first.endswith(f"/{repo}/discussions/{number}") and again.endswith(f"/{repo}/discussions/{number}")


@pytest.mark.parametrize("make_error", [
    lambda: __import__("httpx2").RemoteProtocolError("Server disconnected without sending a response."),
    lambda: __import__("httpx2").ReadError("connection reset"),
    lambda: __import__("httpx").RemoteProtocolError("Server disconnected without sending a response."),
    lambda: __import__("requests").ConnectionError("Connection aborted."),
    lambda: __import__("urllib3.exceptions").exceptions.ProtocolError("Connection aborted."),
    lambda: __import__("aiohttp").ServerDisconnectedError(),
], ids=["httpx2-remote-protocol", "httpx2-read", "httpx-remote-protocol", "requests", "urllib3", "aiohttp"])  # fmt: skip
def test_connection_errors_of_every_client_library_are_hub_unreachable(make_error) -> None:
    failure = explain(make_error())
    assert failure.exit_code == EXIT_HUB_UNREACHABLE
    assert failure.message.startswith("cannot reach the Hub at ") and failure.message.endswith("start it with `hubtools hub serve` or check HF_ENDPOINT")
