"""The embedded Hub through the real huggingface_hub client: repos, history, permissions, robustness."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from hub_support import ORG, proc_status_kb, repo, unique, writer  # noqa: F401 (fixtures)


def head(hub, token: str, repo_id: str, revision: str = "main") -> str:
    return hub.api(token).model_info(repo_id, revision=revision).sha


def test_three_repo_types_create_exist_ok_and_delete(hub, writer):
    api = hub.api(writer)
    model, dataset, space = unique("model"), unique("data"), unique("space")
    assert api.create_repo(model).endswith(f"/{model}")
    assert api.create_repo(model, exist_ok=True).endswith(f"/{model}")
    with pytest.raises(HfHubHTTPError) as conflict:
        api.create_repo(model)
    assert conflict.value.response.status_code == 409
    assert api.create_repo(dataset, repo_type="dataset").endswith(f"/datasets/{dataset}")
    api.create_repo(space, repo_type="space", space_sdk="gradio")
    assert api.space_info(space).sdk == "gradio" and api.get_space_runtime(space).stage == "NO_APP_FILE"
    assert api.dataset_info(dataset).id == dataset
    api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=dataset, repo_type="dataset")
    assert Path(hf_hub_download(dataset, "data.csv", repo_type="dataset")).read_bytes() == b"a,b\n1,2\n"
    for page in (f"/datasets/{dataset}", f"/spaces/{space}", f"/{model}"):
        response = httpx.get(hub.endpoint + page)
        assert response.status_code == 200 and "<h1>" in response.text, page
    api.delete_repo(dataset, repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info(dataset)
    api.delete_repo(dataset, repo_type="dataset", missing_ok=True)


def test_large_lfs_file_round_trip_with_sha256_and_range(hub, writer, repo, tmp_path):
    content = os.urandom(21 * 1024 * 1024)
    source = tmp_path / "weights.bin"
    source.write_bytes(content)
    hub.api(writer).upload_file(path_or_fileobj=source, path_in_repo="weights.bin", repo_id=repo)
    sibling = next(s for s in hub.api().model_info(repo, files_metadata=True).siblings if s.rfilename == "weights.bin")
    assert sibling.lfs is not None and sibling.lfs.sha256 == hashlib.sha256(content).hexdigest()
    downloaded = Path(hf_hub_download(repo, "weights.bin", cache_dir=tmp_path / "cache"))
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == sibling.lfs.sha256
    response = httpx.get(f"{hub.endpoint}/{repo}/resolve/main/weights.bin", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206 and response.content == content[100:200]
    head_response = httpx.head(f"{hub.endpoint}/{repo}/resolve/main/weights.bin")
    assert head_response.headers["X-Linked-Size"] == str(len(content))
    assert head_response.headers["X-Linked-Etag"] == f'"{sibling.lfs.sha256}"'
    assert head_response.headers["X-Repo-Commit"] == head(hub, writer, repo)


def test_history_old_revisions_branches_and_pull_requests(hub, writer, repo, tmp_path):
    api = hub.api(writer)
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id=repo, commit_message="first").oid
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=repo, commit_message="second").oid
    commits = api.list_repo_commits(repo)
    assert [c.commit_id for c in commits[:2]] == [second, first]
    assert commits[0].title == "second" and commits[0].authors == ["alice"] and len(second) == 40
    assert Path(hf_hub_download(repo, "f.txt", revision=first, cache_dir=tmp_path)).read_bytes() == b"v1"
    last = {entry.path: entry.last_commit.oid for entry in api.list_repo_tree(repo, expand=True)}
    assert last["f.txt"] == second and last[".gitattributes"] == commits[-1].commit_id

    api.create_branch(repo, branch="dev")
    api.upload_file(path_or_fileobj=b"dev", path_in_repo="f.txt", repo_id=repo, revision="dev")
    assert Path(hf_hub_download(repo, "f.txt", revision="dev", cache_dir=tmp_path)).read_bytes() == b"dev"
    assert head(hub, writer, repo) == second

    pr = api.upload_file(path_or_fileobj=b"pr", path_in_repo="f.txt", repo_id=repo, create_pr=True)
    assert pr.pr_revision == "refs/pr/1" and head(hub, writer, repo) == second
    assert Path(hf_hub_download(repo, "f.txt", revision="refs/pr/1", cache_dir=tmp_path)).read_bytes() == b"pr"
    refs = api.list_repo_refs(repo, include_pull_requests=True)
    assert {b.name for b in refs.branches} == {"main", "dev"}
    assert [p.ref for p in refs.pull_requests] == ["refs/pr/1"]
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo, "f.txt", revision="nope", cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "missing.txt", cache_dir=tmp_path)


def test_stale_parent_commit_is_refused_and_nothing_written(hub, writer, repo):
    api = hub.api(writer)
    stale = head(hub, writer, repo)
    current = api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo).oid
    with pytest.raises(HfHubHTTPError) as refused:
        api.create_commit(repo, [CommitOperationAdd("y.txt", b"y")], commit_message="late", parent_commit=stale)
    assert refused.value.response.status_code == 412 and "parent_commit" in str(refused.value)
    assert head(hub, writer, repo) == current
    api.create_commit(repo, [CommitOperationAdd("y.txt", b"y")], commit_message="fresh", parent_commit=current)


def test_delete_file_delete_folder_and_copy(hub, writer, repo):
    api = hub.api(writer)
    big = os.urandom(2 * 1024 * 1024)
    api.create_commit(repo, [
        CommitOperationAdd("keep.txt", b"keep"),
        CommitOperationAdd("drop.txt", b"drop"),
        CommitOperationAdd("folder/a.txt", b"a"),
        CommitOperationAdd("folder/sub/b.txt", b"b"),
        CommitOperationAdd("big.bin", big),
    ], commit_message="setup")
    api.create_commit(repo, [
        CommitOperationDelete("drop.txt"),
        CommitOperationDelete("folder/"),
        CommitOperationCopy("keep.txt", "copies/keep.txt"),
        CommitOperationCopy("big.bin", "copies/big.bin"),
    ], commit_message="reshape")
    files = set(api.list_repo_files(repo))
    assert files == {".gitattributes", "keep.txt", "big.bin", "copies/keep.txt", "copies/big.bin"}
    copied = hf_hub_download(repo, "copies/big.bin")
    assert Path(copied).read_bytes() == big


def test_private_repos_answer_404_to_strangers_and_read_only_tokens_cannot_write(hub, writer):
    repo_id = unique("private")
    hub.api(writer).create_repo(repo_id, private=True)
    hub.api(writer).upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo_id)
    stranger = hub.token("mallory")
    for token in (None, stranger):
        with pytest.raises(RepositoryNotFoundError):
            hub.api(token).model_info(repo_id)
        response = httpx.get(f"{hub.endpoint}/{repo_id}/resolve/main/s.txt",
                             headers={"Authorization": f"Bearer {token}"} if token else {})
        assert response.status_code == 404 and response.headers["X-Error-Code"] == "RepoNotFound"
    reader = hub.token("bob", [ORG], read_only=True)
    assert hub.api(reader).model_info(repo_id).private is True
    before = head(hub, writer, repo_id)
    with pytest.raises(HfHubHTTPError) as refused:
        hub.api(reader).upload_file(path_or_fileobj=b"no", path_in_repo="n.txt", repo_id=repo_id)
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as outsider:
        hub.api(stranger).create_repo(unique("not-mine"))
    assert outsider.value.response.status_code == 403
    assert head(hub, writer, repo_id) == before
    assert hub.api(reader).whoami()["auth"]["accessToken"]["role"] == "read"


def test_server_restart_and_kill_keep_every_commit(hub, writer, repo):
    api = hub.api(writer)
    sha = api.upload_file(path_or_fileobj=b"durable", path_in_repo="d.txt", repo_id=repo).oid
    try:
        hub.kill()
        hub.start()
        assert head(hub, writer, repo) == sha
        hub.stop()
        hub.start()
        assert Path(hf_hub_download(repo, "d.txt", force_download=True)).read_bytes() == b"durable"
    finally:
        hub.start()


def test_twenty_concurrent_committers_lose_no_commit(hub, writer, repo):
    before = len(hub.api(writer).list_repo_commits(repo))
    errors: list[BaseException] = []

    def commit(index: int) -> None:
        try:
            hub.stock_api(writer).create_commit(
                repo, [CommitOperationAdd(f"c/{index}.txt", str(index).encode())], commit_message=f"c{index}"
            )
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(hub.api(writer).list_repo_commits(repo)) == before + 20
    assert {f"c/{i}.txt" for i in range(20)} <= set(hub.api(writer).list_repo_files(repo))


def _raw_commit(hub, token: str, repo_id: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content=body,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_bad_requests_get_a_clean_4xx_and_change_nothing(hub, writer, repo):
    before = head(hub, writer, repo)
    header = b'{"key": "header", "value": {"summary": "bad"}}\n'
    malformed = _raw_commit(hub, writer, repo, header + b'{"key": "file", "value": {nope\n')
    assert malformed.status_code == 400 and "line 2" in malformed.json()["error"]
    traversal = _raw_commit(hub, writer, repo, header + b'{"key": "file", "value": {"path": "../x", "content": "eA==", "encoding": "base64"}}\n')
    assert traversal.status_code == 400 and "../x" in traversal.json()["error"]
    missing_lfs = _raw_commit(hub, writer, repo, header + b'{"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "' + b"a" * 64 + b'", "size": 3}}\n')
    assert missing_lfs.status_code == 400
    big_line = b'{"key": "file", "value": {"content": "' + b"QUJD" * 600_000
    not_base64 = _raw_commit(hub, writer, repo, header + big_line + b'!!!!", "path": "big.txt", "encoding": "base64"}}\n')
    assert not_base64.status_code == 400 and "base64" in not_base64.json()["error"]
    truncated_line = _raw_commit(hub, writer, repo, header + big_line)
    assert truncated_line.status_code == 400 and "line 2" in truncated_line.json()["error"]

    content = b"real content"
    batch = httpx.post(f"{hub.endpoint}/{repo}.git/info/lfs/objects/batch", headers={"Authorization": f"Bearer {writer}"},
                       json={"operation": "upload", "objects": [{"oid": hashlib.sha256(content).hexdigest(), "size": len(content)}]})
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    wrong = httpx.put(href, content=b"fake content")
    assert wrong.status_code == 400 and "sha256" in wrong.json()["error"]
    truncated = httpx.put(href, content=content[:5])
    assert truncated.status_code == 400
    oversize = httpx.get(f"{hub.endpoint}/api/models/{repo}", headers={"X-Big": "x" * 100_000})
    assert 400 <= oversize.status_code < 500
    assert head(hub, writer, repo) == before
    assert not any((hub.root / "tmp").iterdir())


def test_readme_card_page_card_data_and_yaml_validation(hub, writer, repo):
    api = hub.api(writer)
    readme = (
        "---\nlicense: mit\ntags:\n- sentiment\nmodel-index:\n- name: m\n  results:\n  - task: {type: text-classification}\n"
        "    dataset: {name: tweets, type: tweets}\n    metrics:\n    - {type: accuracy, name: Accuracy, value: 0.875}\n"
        "---\n# My model\n\n![matrix](confusion_matrix.png)\n"
    )
    api.create_commit(repo, [CommitOperationAdd("README.md", readme.encode()),
                             CommitOperationAdd("confusion_matrix.png", b"\x89PNG\r\n\x1a\nfake")], commit_message="card")
    assert api.model_info(repo).card_data["license"] == "mit"
    page = httpx.get(f"{hub.endpoint}/{repo}")
    assert page.status_code == 200 and "<h1>My model</h1>" in page.text and "sentiment" in page.text
    assert "Evaluation results" in page.text and "Accuracy" in page.text and "0.875" in page.text
    assert f'src="/{repo}/resolve/main/confusion_matrix.png"' in page.text
    assert httpx.get(f"{hub.endpoint}/{repo}/resolve/main/confusion_matrix.png").status_code == 200
    with pytest.raises(ValueError, match="Invalid metadata"):
        api.upload_file(path_or_fileobj=b"---\n- not: [a mapping\n---\n", path_in_repo="README.md", repo_id=repo)


def test_stock_hf_upload_cli_with_hf_xet(hub, writer, repo, tmp_path):
    folder = tmp_path / "upload"
    (folder / "nested").mkdir(parents=True)
    (folder / "small.txt").write_text("hello")
    payload = os.urandom(3 * 1024 * 1024)
    (folder / "nested" / "model.safetensors").write_bytes(payload)
    hf = Path(os.environ.get("VIRTUAL_ENV", Path(os.sys.executable).parent.parent)) / "bin" / "hf"
    env = {**os.environ, "HF_TOKEN": writer, "HF_ENDPOINT": hub.endpoint}
    result = subprocess.run([str(hf), "upload", repo, str(folder), "."], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert {"small.txt", "nested/model.safetensors"} <= set(hub.api(writer).list_repo_files(repo))
    assert Path(hf_hub_download(repo, "nested/model.safetensors")).read_bytes() == payload


def test_upload_killed_with_the_server_leaves_the_last_complete_commit(hub, writer, repo):
    before = head(hub, writer, repo)
    content = os.urandom(8 * 1024 * 1024)
    oid = hashlib.sha256(content).hexdigest()
    batch = httpx.post(f"{hub.endpoint}/{repo}.git/info/lfs/objects/batch", headers={"Authorization": f"Bearer {writer}"},
                       json={"operation": "upload", "objects": [{"oid": oid, "size": len(content)}]})
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    stalled, released = threading.Event(), threading.Event()

    def half_then_stall():
        yield content[: len(content) // 2]
        stalled.set()
        released.wait(30)
        yield content[len(content) // 2 :]

    uploader = threading.Thread(target=lambda: _swallow(lambda: httpx.put(href, content=half_then_stall(), timeout=60)))
    uploader.start()
    assert stalled.wait(10)
    try:
        hub.kill()
        two_hours_ago = time.time() - 7200  # past TEMP_UPLOAD_GRACE_SECONDS: a leftover, not another process's write
        for partial in (hub.root / "tmp").iterdir():
            os.utime(partial, (two_hours_ago, two_hours_ago))
    finally:
        hub.start()
        released.set()
    uploader.join(timeout=60)
    assert head(hub, writer, repo) == before
    assert not (hub.root / "blobs" / oid[:2] / oid[2:]).exists()
    assert not any((hub.root / "tmp").iterdir())


def _swallow(action) -> None:
    try:
        action()
    except httpx.HTTPError:
        pass


def test_hubtools_and_stock_clients_take_the_same_upload_path(hub, writer, repo):
    payload = os.urandom(2 * 1024 * 1024)
    hub.api(writer).upload_file(path_or_fileobj=payload, path_in_repo="via-hubtools.bin", repo_id=repo)
    hub.stock_api(writer).upload_file(path_or_fileobj=payload, path_in_repo="via-stock.bin", repo_id=repo)
    siblings = {s.rfilename: s for s in hub.api().model_info(repo, files_metadata=True).siblings}
    assert siblings["via-hubtools.bin"].lfs.sha256 == siblings["via-stock.bin"].lfs.sha256 == hashlib.sha256(payload).hexdigest()
    unchanged = head(hub, writer, repo)
    hub.stock_api(writer).upload_file(path_or_fileobj=payload, path_in_repo="via-stock.bin", repo_id=repo)
    assert head(hub, writer, repo) == unchanged  # same sha256 at preupload: nothing to commit


@pytest.mark.slow
def test_a_1_gb_checkpoint_of_random_bytes_streams_through_with_bounded_server_memory(hub, writer, repo, tmp_path):
    size = 1000 * 1000 * 1000  # random bytes: Xet can neither deduplicate nor compress them; 16x any 64 MiB xorb
    checkpoint = tmp_path / "checkpoint.safetensors"
    digest = write_random_file(checkpoint, size)
    # The server's anonymous memory (what buffering the body would fill; the xorbs it memory-maps from disk to verify
    # them are file pages), sampled from another thread during this upload only.
    pid = hub.server.process.pid
    before_kb, samples, uploaded = proc_status_kb(pid, "RssAnon"), [], threading.Event()
    sampler = threading.Thread(target=sample_until, args=(lambda: proc_status_kb(pid, "RssAnon"), samples, uploaded))
    sampler.start()
    try:
        hub.api(writer).upload_file(path_or_fileobj=checkpoint, path_in_repo="checkpoint.safetensors", repo_id=repo)
    finally:
        uploaded.set()
        sampler.join()
    growth_mb = (max(samples) - before_kb) / 1024
    print(f"server anonymous memory {before_kb / 1024:.0f} MB before the upload, {growth_mb:+.0f} MB at its peak ({len(samples)} samples)")
    sibling = next(s for s in hub.api().model_info(repo, files_metadata=True).siblings if s.rfilename == "checkpoint.safetensors")
    assert sibling.size == size and sibling.lfs is not None and sibling.lfs.sha256 == digest
    assert (hub.root / "blobs" / digest[:2] / digest[2:]).stat().st_size == size
    # a bound in bytes, not time, so it holds at any load: buffering the upload would grow the server by ~1000 MB
    assert growth_mb < size / 4 / 2**20, f"the server grew by {growth_mb:.0f} MB during a {size / 1e6:.0f} MB upload: it was buffered"


def write_random_file(path: Path, size: int, chunk: int = 64 * 2**20) -> str:
    """SIZE bytes from a seeded generator (no two chunks alike), written a chunk at a time; returns their sha256."""
    import numpy as np

    generator, digest = np.random.default_rng(1400), hashlib.sha256()
    with path.open("wb") as handle:
        for start in range(0, size, chunk):
            block = generator.bytes(min(chunk, size - start))
            handle.write(block)
            digest.update(block)
    return digest.hexdigest()


def sample_until(read: Callable[[], int], samples: list[int], done: threading.Event, every_s: float = 0.02) -> None:
    while not done.is_set():
        samples.append(read())
        done.wait(every_s)
