"""Embedded Hub routes beyond uploads and downloads: paginated trees, tags, pull requests, discussions, squash."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from huggingface_hub import RepoFile, RepoFolder

from hub_support import ORG, repo, unique, writer  # noqa: F401 (fixtures)
from hubtools.hub.store import Addition, HubStore


def commit_many_files(hub, repo_id: str, count: int) -> None:
    """`count` one-byte files in folders of 1000, committed through the store directly (fast)."""
    store = HubStore(hub.root)
    blob = store.put_bytes(b"x")
    files = [Addition(f"shard-{i // 1000:02d}/file-{i:05d}.txt", blob.sha256, blob.size, False, blob.blob_id) for i in range(count)]
    store.apply_commit(store.get_repo("model", *repo_id.split("/")), "main", files, "alice", f"{count} files", "")


def test_tree_pages_follow_the_link_header_with_a_cursor_pinned_to_a_commit(hub, writer, repo):
    commit_many_files(hub, repo, 2_500)
    first = httpx.get(f"{hub.endpoint}/api/models/{repo}/tree/main", params={"recursive": "true"})
    assert len(first.json()) == 1000 and first.links["next"]["url"].count("cursor=") == 1
    hub.api(writer).upload_file(path_or_fileobj=b"new", path_in_repo="later.txt", repo_id=repo)
    second = httpx.get(first.links["next"]["url"])
    assert len(second.json()) == 1000 and "later.txt" not in [e["path"] for e in second.json()]
    assert len(list(hub.stock_api().list_repo_tree(repo, recursive=True))) == 2_500 + 3 + 2  # + 3 folders, 2 top files
    assert [e.path for e in hub.stock_api().list_repo_tree(repo, path_in_repo="shard-01")][:2] == [
        "shard-01/file-01000.txt", "shard-01/file-01001.txt"]
    bad_cursor = httpx.get(f"{hub.endpoint}/api/models/{repo}/tree/main", params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 400


@pytest.mark.slow
def test_a_20000_file_tree_is_paginated_while_whoami_stays_responsive(hub, writer, repo):
    commit_many_files(hub, repo, 20_000)

    first_page = httpx.get(f"{hub.endpoint}/api/models/{repo}/tree/main", params={"recursive": "true"})
    assert len(first_page.json()) == 1000 and 'rel="next"' in first_page.headers["Link"]

    latencies: list[float] = []
    listed = threading.Event()

    def ask_whoami() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {writer}"}) as client:  # one connection, as clients keep
            while not listed.is_set():
                started = time.monotonic()
                answer = client.get(f"{hub.endpoint}/api/whoami-v2")
                latencies.append(time.monotonic() - started)
                assert answer.status_code == 200
                time.sleep(0.05)

    prober = threading.Thread(target=ask_whoami)
    prober.start()
    try:
        entries = list(hub.stock_api().list_repo_tree(repo, recursive=True, expand=True))
    finally:
        listed.set()
        prober.join()
    files_listed = [e for e in entries if isinstance(e, RepoFile)]
    assert len(files_listed) == 20_001 and len({e.path for e in files_listed}) == 20_001  # with .gitattributes
    assert len([e for e in entries if isinstance(e, RepoFolder)]) == 20
    assert all(e.last_commit is not None and e.last_commit.title == "20000 files" for e in entries if e.path != ".gitattributes")
    assert len(latencies) >= 5 and max(latencies) < 0.5, (len(latencies), max(latencies))
