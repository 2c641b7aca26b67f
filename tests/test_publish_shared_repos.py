"""Publishing into repos other people also write to: only what hubtools published before is ever deleted."""

from __future__ import annotations

import pytest

from hubtools.publish.manifest import MANIFEST_FILE, NO_MANIFEST
from publishing_support import copy_of_trained_run, publish_run, repo_files

ORG = "shared"
BOB_NOTES = "notes/bob.txt"


@pytest.fixture(scope="module")
def token(hub) -> str:
    return hub.token("alice", [ORG])


def test_a_collaborators_file_survives_a_republish_and_the_plan_names_it_then_mirror_removes_it(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "shared")
    model, dataset, space = f"{ORG}/tiny", f"{ORG}/tiny-data", f"{ORG}/tiny-demo"
    repos = {model: "model", dataset: "dataset", space: "space"}
    dropped = run.card / "draft_notes.txt"  # published once by hubtools, then gone from the run: deleted
    run.card.mkdir(parents=True, exist_ok=True)
    dropped.write_text("first draft\n", encoding="utf-8")
    publish_run(run, model, token, dataset_repo_id=dataset, space_repo_id=space)
    assert all(MANIFEST_FILE in repo_files(hub.api(token), repo, kind) for repo, kind in repos.items())
    bob = hub.api(hub.token("bob", [ORG]))
    for repo, kind in repos.items():
        bob.upload_file(path_or_fileobj=b"bob's notes\n", path_in_repo=BOB_NOTES, repo_id=repo, repo_type=kind, commit_message="Bob's notes")

    dropped.unlink()
    lines: list[str] = []
    result = publish_run(run, model, token, lines, dataset_repo_id=dataset, space_repo_id=space)

    api = hub.api(token)
    assert all(BOB_NOTES in repo_files(api, repo, kind) for repo, kind in repos.items())
    assert "\n".join(lines).splitlines().count(f"  kept: {BOB_NOTES}, added by another commit") == 3
    dataset_plan, model_plan, space_plan = result.plans
    assert [(change.path, change.status) for change in model_plan.pending()] == [  # the card is pinned to the dataset's new head (Bob's)
        ("README.md", "changed"), (MANIFEST_FILE, "changed"), ("draft_notes.txt", "deleted")]
    assert "draft_notes.txt" not in repo_files(api, model)
    assert dataset_plan.pending() == space_plan.pending() == []  # nothing of theirs changed: no commit at all
    assert [commit.commit_id is None for commit in result.commits] == [True, False, True]

    lines.clear()
    result = publish_run(run, model, token, lines, dataset_repo_id=dataset, space_repo_id=space, mirror=True)

    assert [[change.path for change in plan.pending() if change.status == "deleted"] for plan in result.plans] == [[BOB_NOTES]] * 3
    assert "\n".join(lines).splitlines().count(f"  - {BOB_NOTES}  12 B") == 3
    assert not any(BOB_NOTES in repo_files(api, repo, kind) for repo, kind in repos.items())


def test_a_repo_published_before_the_manifest_existed_loses_nothing(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "no-manifest")
    repo = f"{ORG}/older"
    api = hub.api(token)
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=b"weights of an older publish\n", path_in_repo="old_model.bin", repo_id=repo, commit_message="An older publish")

    lines: list[str] = []
    (commit,) = publish_run(run, repo, token, lines, space_repo_id=None).commits

    assert f"  kept: old_model.bin, {NO_MANIFEST}" in lines[0].splitlines()
    assert "old_model.bin" in repo_files(api, repo)
    assert not [change for change in commit.plan.pending() if change.status == "deleted"]
    (again,) = publish_run(run, repo, token, lines, space_repo_id=None).commits
    assert again.commit_id is None  # the manifest now exists and lists only the run's files: old_model.bin is still kept
    assert [(change.path, change.why_kept) for change in again.plan.kept()] == [("old_model.bin", "added by another commit")]
