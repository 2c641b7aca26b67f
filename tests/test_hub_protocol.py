"""The embedded Hub answers stock huggingface_hub calls as huggingface.co does (gaps found by huggingface_hub's own
tests, see tests/peer): renames, auth-check, comment edits, LFS file listing and deletion, expanded paths-info,
formatted commits, .gitignore at preupload, the Hub's wording of errors and statuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from hub_support import ORG, repo, unique, writer  # noqa: F401 (fixtures)
from hubtools.hub import issue_token, serve_in_background
from hubtools.ports import free_port


def test_every_answer_carries_a_request_id_that_errors_quote(hub, writer):
    api = hub.stock_api(writer)
    with pytest.raises(RepositoryNotFoundError) as missing:
        api.model_info(unique("missing"))
    request_id = missing.value.response.headers["X-Request-Id"]
    assert f"(Request ID: {request_id})" in str(missing.value)
    assert httpx.get(f"{hub.endpoint}/api/whoami-v2").headers["X-Request-Id"] != request_id


def test_a_repo_id_without_namespace_is_a_missing_repo_and_likes_are_a_named_501(hub, writer):
    api = hub.stock_api(writer)
    assert api.repo_exists("no-namespace") is False
    with pytest.raises(HfHubHTTPError) as likes:
        api.list_liked_repos("alice")
    assert likes.value.response.status_code == 501 and "likes" in str(likes.value)


def test_move_repo_renames_it_and_the_old_id_redirects_readers_only(hub, writer, repo):
    api = hub.stock_api(writer)
    api.upload_file(path_or_fileobj=b"content", path_in_repo="file.txt", repo_id=repo)
    api.update_repo_settings(repo, private=True)
    renamed = unique("renamed")
    api.move_repo(repo, renamed)
    assert api.model_info(renamed).id == renamed
    assert open(api.hf_hub_download(repo, "file.txt")).read() == "content"  # follows the redirect, token kept
    assert api.model_info(repo).id == renamed
    with pytest.raises(RepositoryNotFoundError):  # a stranger learns nothing about the private repo's new name
        hub.stock_api(hub.token("mallory")).model_info(repo)
    other = unique("other")
    api.create_repo(other)
    with pytest.raises(HfHubHTTPError, match=r"A model repository called .* already exists"):
        api.move_repo(renamed, other)
    api.move_repo(renamed, repo)  # back to the first name: it is a repo again, not a redirect
    assert api.model_info(repo).id == repo


def test_auth_check_answers_readers_and_hides_private_repos_from_others(hub, writer, repo):
    hub.stock_api(writer).auth_check(repo)
    hub.stock_api(writer).update_repo_settings(repo, private=True)
    with pytest.raises(RepositoryNotFoundError):
        hub.stock_api(hub.token("mallory")).auth_check(repo)


def test_a_comment_is_edited_by_its_author_with_its_history_kept(hub, writer, repo):
    api = hub.stock_api(writer)
    discussion = api.create_discussion(repo, title="Question", description="first words")
    comment = [e for e in api.get_discussion_details(repo, discussion.num).events if e.type == "comment"][0]
    edited = api.edit_discussion_comment(repo, discussion.num, comment.id, "better words")
    again = [e for e in api.get_discussion_details(repo, discussion.num).events if e.type == "comment"][0]
    assert (edited.content, again.content, again.edited, again.id) == ("better words", "better words", True, comment.id)
    with pytest.raises(HfHubHTTPError) as stranger:
        hub.stock_api(hub.token("mallory")).edit_discussion_comment(repo, discussion.num, comment.id, "mine now")
    assert stranger.value.response.status_code == 403


def test_lfs_files_are_listed_per_ref_and_permanently_deleted(hub, writer, repo):
    api = hub.stock_api(writer)
    api.upload_file(path_or_fileobj=b"weights", path_in_repo="model.bin", repo_id=repo)
    api.upload_file(path_or_fileobj=b"notes", path_in_repo="notes.txt", repo_id=repo)
    api.create_branch(repo, branch="dev")
    api.upload_file(path_or_fileobj=b"dev weights", path_in_repo="dev.bin", repo_id=repo, revision="dev")
    listed = {f.filename: f.ref for f in api.list_lfs_files(repo)}
    assert listed == {"model.bin": "refs/heads/main", "dev.bin": "refs/heads/dev"}
    assert "model.bin" in api.list_repo_files(repo)  # listed once before: the listing cache must not keep it
    api.permanently_delete_lfs_files(repo, [f for f in api.list_lfs_files(repo) if f.filename == "model.bin"])
    assert [f.filename for f in api.list_lfs_files(repo)] == ["dev.bin"]
    assert "model.bin" not in api.list_repo_files(repo)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "model.bin", endpoint=hub.endpoint, token=writer)


def test_paths_info_expand_and_formatted_commits(hub, writer, repo):
    api = hub.stock_api(writer)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="data/a.txt", repo_id=repo, commit_message="Add *data*",
                    commit_description="Why: **tests**")
    infos = {i.path: i for i in api.get_paths_info(repo, ["data", "data/a.txt"], expand=True)}
    assert infos["data/a.txt"].last_commit.title == "Add *data*" and infos["data"].last_commit.title == "Add *data*"
    newest = api.list_repo_commits(repo, formatted=True)[0]
    assert newest.formatted_title == "Add *data*" and newest.formatted_message == "<p>Why: <strong>tests</strong></p>\n"
    assert api.list_repo_commits(repo)[0].formatted_title is None  # only when asked


def test_gitignore_of_the_repo_or_of_the_commit_applies_at_preupload(hub, writer, repo, tmp_path):
    api = hub.stock_api(writer)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "file.bin").write_bytes(b"ignored")
    (tmp_path / "kept.txt").write_text("kept")
    api.upload_file(path_or_fileobj=b"nested/*\n", path_in_repo=".gitignore", repo_id=repo)
    api.upload_folder(folder_path=tmp_path, repo_id=repo)
    assert set(api.list_repo_files(repo)) == {".gitattributes", ".gitignore", "kept.txt"}
    (tmp_path / ".gitignore").write_text("*.md\n")  # the commit's own .gitignore wins over the repo's
    (tmp_path / "more.md").write_text("ignored now")
    api.upload_folder(folder_path=tmp_path, repo_id=repo)
    assert set(api.list_repo_files(repo)) == {".gitattributes", ".gitignore", "kept.txt", "nested/file.bin"}


def test_commit_semantics_folder_delete_case_insensitive_ids_squashed_pr_and_space_readme(hub, writer):
    api = hub.stock_api(writer)
    repo_id = api.create_repo(f"{ORG}/CaSe-{unique('x').split('/')[1]}").repo_id
    api.create_commit(repo_id.lower(), [CommitOperationAdd("1/a.md", b"a"), CommitOperationAdd("1/b.md", b"b")], commit_message="two")
    api.create_commit(repo_id, [CommitOperationDelete("1")], commit_message="folder named like a file")
    assert api.list_repo_files(repo_id.upper()) == [".gitattributes"]
    pr = api.create_pull_request(repo_id, title="Squash me")
    for content in (b"one", b"two"):
        api.upload_file(path_or_fileobj=content, path_in_repo="f.txt", repo_id=repo_id, revision=pr.git_reference)
    api.super_squash_history(repo_id, branch=pr.git_reference)
    assert len(api.list_repo_commits(repo_id, revision=pr.git_reference)) == 1
    space = api.create_repo(unique("space"), repo_type="space", space_sdk="gradio").repo_id
    assert api.space_info(space).card_data.sdk == "gradio"


def test_errors_are_worded_as_on_the_hub(hub, writer, repo):
    api = hub.stock_api(writer)
    head = api.model_info(repo).sha
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
    with pytest.raises(HfHubHTTPError, match="The branch was updated since you opened this page") as stale:
        api.create_commit(repo, [CommitOperationAdd("y.txt", b"y")], commit_message="late", parent_commit=head)
    assert stale.value.response.status_code == 412
    api.create_branch(repo, branch="dev")
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/dev already exists"):
        api.create_branch(repo, branch="dev")
    with pytest.raises(HfHubHTTPError, match="Cannot delete refs/heads/main"):
        api.delete_branch(repo, branch="main")
    with pytest.raises(HfHubHTTPError, match="Invalid rev id"):
        api.delete_branch(repo, branch="missing")
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo, tag="not a valid tag", revision="missing")
    with pytest.raises(HfHubHTTPError) as escaping:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="..\\outside", repo_id=repo)
    assert escaping.value.response.status_code == 422
    api.upload_file(path_or_fileobj=b"x", path_in_repo="folder/..\\name", repo_id=repo)  # a plain name on the Hub
    answer = httpx.post(f"{hub.endpoint}/api/validate-yaml", json={"content": "---\nmodel-index: foo\n---\n"})
    assert answer.status_code == 400 and "model-index" in answer.json()["errors"][0]["message"]


UPLOAD_SCRIPT = """
import sys
from huggingface_hub import HfApi
api = HfApi(endpoint=sys.argv[1], token=sys.argv[2])
api.create_repo("alice/weights", exist_ok=True)
api.upload_file(path_or_fileobj=sys.argv[3], path_in_repo="model.bin", repo_id="alice/weights")
"""


def test_a_new_hub_root_at_the_same_address_takes_uploads_from_a_client_with_an_old_xet_cache(tmp_path):
    """hf_xet keeps a shard cache per CAS URL and dedupes against it: each root's CAS URL is its own, so a client
    never skips uploading xorbs that only an earlier root at this address held."""
    port = free_port()
    weights = tmp_path / "model.bin"
    weights.write_bytes(os.urandom(3 * 1024 * 1024))
    env = {**os.environ, "HF_XET_CACHE": str(tmp_path / "xet-cache"), "HF_HOME": str(tmp_path / "hf-home")}
    for attempt in ("first", "reset"):
        root = tmp_path / f"hub-{attempt}"
        server = serve_in_background(root, port=port)
        try:
            token = issue_token(root, "alice")
            upload = subprocess.run([sys.executable, "-c", UPLOAD_SCRIPT, server.endpoint, token, str(weights)],
                                    env=env, capture_output=True, text=True, timeout=300)
            assert upload.returncode == 0, upload.stderr[-2000:]
            downloaded = hf_hub_download("alice/weights", "model.bin", endpoint=server.endpoint, token=token,
                                         cache_dir=tmp_path / f"download-{attempt}")
            assert Path(downloaded).read_bytes() == weights.read_bytes()
        finally:
            server.stop()


def test_validate_yaml_refuses_a_license_huggingface_co_does_not_know(hub, writer, repo):
    from huggingface_hub import RepoCard

    with pytest.raises(ValueError, match=r'^- Error: "license" must be one of \[afl-3.0, agpl-3.0, apache-2.0, '):
        RepoCard("---\nlicense: asdf\n---\n# A model\n").validate()
    RepoCard("---\nlicense: [mit, cc-by-4.0]\n---\n# A model\n").validate()  # a list of known identifiers passes
    with pytest.raises(ValueError, match=r'Invalid metadata in README.md.\n- "license" must be one of \['):
        hub.api(writer).upload_file(path_or_fileobj=b"---\nlicense: [mit, 3]\n---\n", path_in_repo="README.md", repo_id=repo)
