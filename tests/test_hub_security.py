"""The embedded Hub's defences: body limits before reading, names, resolve headers, blob scoping, gc."""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

from hubtools.hub.store import FileEntry
from hub_support import ORG, proc_status_kb, repo, unique, writer  # noqa: F401 (fixtures)

MB = 1024 * 1024


def raw_post(hub, path: str, headers: dict[str, str], chunks=(), timeout: float = 120) -> tuple[int, dict[str, str], int]:
    """POST over a bare socket: send the head, then body chunks (chunked encoding) until the server answers.

    Returns (status, response headers, body bytes sent): shows how much the server let in before refusing.
    """
    url = urlparse(hub.endpoint)
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    head = answer.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    response_headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split(" ")[1]), {k.lower(): v for k, v in response_headers.items()}, sent


def test_an_anonymous_600_mb_post_is_refused_before_its_body_is_read(hub):
    # No body is ever sent: a server that waited for it would not answer and raw_post would time out. That, not a
    # latency bound, is the check, so it holds at load 20 (the timeout is generous).
    status, headers, _ = raw_post(hub, "/api/validate-yaml", {"Content-Length": str(600 * MB), "Content-Type": "application/json"})
    assert status == 413 and "600" in headers["x-error-message"]

    pid = hub.server.process.pid
    before_kb = proc_status_kb(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS now: the peak read below is this request's
    streamed = (b"x" * MB for _ in range(600))
    status, headers, sent = raw_post(hub, "/api/validate-yaml", {"Transfer-Encoding": "chunked"}, streamed)
    assert status == 413 and sent < 100 * MB  # refused once past the 10 MB JSON limit, long before 600 MB
    # A byte bound, not a time one, so load does not move it: this request's peak, not RSS drift since the session began.
    assert (proc_status_kb(pid, "VmHWM") - before_kb) / 1024 < 50


def test_authenticated_routes_answer_401_before_reading_a_body(hub, repo):
    for path in (f"/api/models/{repo}/commit/main", "/api/repos/create", f"/{repo}.git/info/lfs/objects/batch"):
        # the 5 MB body is never sent: an answer at all (before raw_post's generous timeout) shows it was not awaited
        status, _, _ = raw_post(hub, path, {"Content-Length": str(5 * MB)})  # under every limit
        assert status == 401, path


def test_a_400_mb_commit_description_is_refused_and_limits_hold(hub, writer, repo):
    before = hub.api(writer).model_info(repo).sha
    header = b'{"key": "header", "value": {"summary": "huge", "description": "'
    body = (header if i == 0 else b"d" * MB for i in range(401))
    auth = {"Authorization": f"Bearer {writer}", "Transfer-Encoding": "chunked", "Content-Type": "application/x-ndjson"}
    status, headers, sent = raw_post(hub, f"/api/models/{repo}/commit/main", auth, body)
    assert status == 413 and "exceeds" in headers["x-error-message"] and sent < 100 * MB

    api = hub.stock_api(writer)
    one_file = [CommitOperationAdd("a.txt", b"a")]
    with pytest.raises(HfHubHTTPError) as long_description:
        api.create_commit(repo, one_file, commit_message="ok", commit_description="d" * 70_000)
    assert long_description.value.response.status_code == 413
    with pytest.raises(HfHubHTTPError) as long_summary:
        api.create_commit(repo, one_file, commit_message="s" * 1001)
    assert long_summary.value.response.status_code == 413
    with pytest.raises(HfHubHTTPError) as long_path:
        api.create_commit(repo, [CommitOperationAdd("p" * 1001, b"a")], commit_message="long path")
    assert long_path.value.response.status_code == 400 and "1000" in str(long_path.value)
    lines = [b'{"key": "header", "value": {"summary": "many"}}']
    lines += [b'{"key": "deletedFile", "value": {"path": "f%d"}}' % i for i in range(25_001)]
    many = httpx.post(f"{hub.endpoint}/api/models/{repo}/commit/main", content=b"\n".join(lines),
                      headers={"Authorization": f"Bearer {writer}"}, timeout=60)
    assert many.status_code == 413 and "25000" in many.json()["error"]
    assert hub.api(writer).model_info(repo).sha == before


def test_resolve_downloads_active_types_with_nosniff_csp_and_attachment(hub, writer, repo):
    files = {
        "page.html": b"<script>alert(1)</script>", "icon.svg": b"<svg onload=alert(1)></svg>", "feed.xml": b"<a/>",
        "app.js": b"alert(1)", "README.md": b"# hi", "plot.png": b"\x89PNG\r\n\x1a\n", "notes.txt": b"plain",
    }
    hub.api(writer).create_commit(repo, [CommitOperationAdd(p, c) for p, c in files.items()], commit_message="types")
    for path, content in files.items():
        response = httpx.get(f"{hub.endpoint}/{repo}/resolve/main/{path}")
        assert response.status_code == 200 and response.content == content
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        disposition = response.headers["Content-Disposition"].split(";")[0]
        assert disposition == ("attachment" if path.endswith((".html", ".svg", ".xml", ".js")) else "inline"), path


def test_malformed_resolve_paths_get_a_clean_400(hub, writer, repo):
    for path in ("README.md%00.txt", "a%FFb", "..%2F..%2Fhub.sqlite", "x%0Ay"):
        response = httpx.get(f"{hub.endpoint}/{repo}/resolve/main/{path}")
        assert response.status_code == 400, path
        assert response.headers["X-Error-Code"] == "InvalidPath" and response.json()["error"]


@pytest.mark.parametrize("name", ["a--b", "a..b", "abc-", "x.git", ".hidden", "caf\u00e9"])
def test_repo_names_follow_huggingface_hub_rules(hub, writer, name):
    response = httpx.post(f"{hub.endpoint}/api/repos/create", json={"name": name, "organization": ORG},
                          headers={"Authorization": f"Bearer {writer}"})
    assert response.status_code == 400 and name in response.json()["error"]
    assert response.headers["X-Error-Code"] == "InvalidRepoName"


@pytest.mark.parametrize("branch", ["<script>", "a..b", "x.lock", ".dot", "bad name", "-x"])
def test_branch_names_follow_git_ref_rules(hub, writer, repo, branch):
    with pytest.raises(HfHubHTTPError) as refused:
        hub.stock_api(writer).create_branch(repo, branch=branch)
    assert refused.value.response.status_code == 400 and "Invalid branch name" in str(refused.value)
    assert branch not in [b.name for b in hub.api(writer).list_repo_refs(repo).branches]


def test_unsupported_api_calls_answer_501_naming_the_feature(hub, writer, repo):
    response = httpx.get(f"{hub.endpoint}/api/models/{repo}/likers")
    assert response.status_code == 501 and "likers" in response.headers["X-Error-Message"]
    assert response.headers["X-Error-Code"] == "NotImplemented"
    assert httpx.get(f"{hub.endpoint}/api/collections").status_code == 501
    liked = httpx.post(f"{hub.endpoint}/api/models/{repo}/like", headers={"Authorization": f"Bearer {writer}"})
    assert liked.status_code == 501 and "'like'" in liked.headers["X-Error-Message"]
    with pytest.raises(HfHubHTTPError) as gated:
        hub.stock_api(writer).update_repo_settings(repo, gated="auto")
    assert gated.value.response.status_code == 501 and "gated='auto'" in str(gated.value)
    hub.stock_api(writer).update_repo_settings(repo, private=True, gated=False)
    assert hub.api(writer).model_info(repo).private
    missing = httpx.get(f"{hub.endpoint}/api/models/{ORG}/does-not-exist-{uuid.uuid4().hex[:6]}/likers")
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "RepoNotFound"


def lfs_upload(hub, token: str, repo_id: str, content: bytes) -> dict:
    """Batch + PUT + verify, as git-lfs does; returns the batch answer for the object."""
    answer = lfs_upload_batch_only(hub, token, repo_id, hashlib.sha256(content).hexdigest(), len(content))
    if "actions" in answer:
        assert httpx.put(answer["actions"]["upload"]["href"], content=content).status_code == 200
    return answer


def commit_lfs_pointer(hub, token: str, repo_id: str, oid: str, size: int) -> httpx.Response:
    lines = [{"key": "header", "value": {"summary": "by hash"}},
             {"key": "lfsFile", "value": {"path": "stolen.bin", "algo": "sha256", "oid": oid, "size": size}}]
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content="\n".join(map(json.dumps, lines)),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_a_blob_is_usable_only_by_repos_it_was_uploaded_for_or_that_can_read_it(hub, writer):
    api = hub.api(writer)
    private, sibling = unique("private"), unique("sibling")
    api.create_repo(private, private=True)
    api.create_repo(sibling)
    secret = os.urandom(2 * MB)
    oid = hashlib.sha256(secret).hexdigest()
    api.upload_file(path_or_fileobj=secret, path_in_repo="secret.bin", repo_id=private)
    mallory = hub.token("mallory", ["evil"])
    target = "evil/" + unique("loot").split("/")[1]
    hub.api(mallory).create_repo(target)

    for _ in range(2):  # before and after the private repo is deleted
        refused = commit_lfs_pointer(hub, mallory, target, oid, len(secret))
        assert refused.status_code == 400 and "was not uploaded" in refused.json()["error"]
        assert "actions" in lfs_upload_batch_only(hub, mallory, target, oid, len(secret))  # existence not told
        verify = {"oid": oid, "size": len(secret)}
        assert httpx.post(f"{hub.endpoint}/api/lfs-verify", json=verify).status_code == 401
        assert httpx.post(f"{hub.endpoint}/api/lfs-verify", json=verify, headers={"Authorization": f"Bearer {mallory}"}).status_code == 404
        if _ == 0:
            assert httpx.post(f"{hub.endpoint}/api/lfs-verify", json=verify, headers={"Authorization": f"Bearer {writer}"}).status_code == 200
            assert commit_lfs_pointer(hub, writer, sibling, oid, len(secret)).status_code == 200  # alice can read it
            api.delete_repo(sibling)
            api.delete_repo(private)

    lfs_upload(hub, mallory, target, secret)  # holding the content is proof enough
    assert commit_lfs_pointer(hub, mallory, target, oid, len(secret)).status_code == 200


def lfs_upload_batch_only(hub, token: str, repo_id: str, oid: str, size: int) -> dict:
    batch = httpx.post(f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch", headers={"Authorization": f"Bearer {token}"},
                       json={"operation": "upload", "objects": [{"oid": oid, "size": size}]})
    return batch.json()["objects"][0]


def test_gc_removes_unreferenced_blobs_and_start_up_collects_day_old_ones(tmp_path):
    from typer.testing import CliRunner

    from hubtools.hub import gc
    from hubtools.hub.app import create_app
    from hubtools.cli.hub import hub_app
    from hubtools.hub.store import HubStore

    store = HubStore(tmp_path)
    repo = store.create_repo("model", ORG, "gc", False, None, "alice")
    kept = store.put_bytes(b"committed")
    store.apply_commit(repo, "main", [FileEntry("kept.txt", kept.sha256, kept.size, False, kept.blob_id)], "alice", "keep", "")
    old, fresh = store.put_bytes(b"uploaded two days ago, never committed"), store.put_bytes(b"uploaded just now")
    store.record_upload(repo, old.sha256)
    store.record_upload(repo, fresh.sha256)
    two_days_ago = time.time() - 2 * 86400
    os.utime(store.blob_path(old.sha256), (two_days_ago, two_days_ago))
    with store._write() as db:
        db.execute("UPDATE uploads SET created = ? WHERE sha256 = ?", (two_days_ago, old.sha256))
    (store.tmp_dir / "upload-killed").write_bytes(b"partial")
    os.utime(store.tmp_dir / "upload-killed", (two_days_ago, two_days_ago))
    (store.tmp_dir / "upload-in-progress").write_bytes(b"another process on this root is writing it")

    create_app(tmp_path)  # server start-up (`hub seed-base-models` may be writing while `hub serve &` starts)
    assert not store.blob_path(old.sha256).exists() and [path.name for path in store.tmp_dir.iterdir()] == ["upload-in-progress"]
    assert store.blob_path(fresh.sha256).exists() and store.blob_path(kept.sha256).exists()

    result = CliRunner().invoke(hub_app, ["gc", "--root", str(tmp_path), "--min-age-hours", "0"])
    assert result.exit_code == 0 and "removed 1 unreferenced blobs" in result.output
    assert not store.blob_path(fresh.sha256).exists() and store.blob_path(kept.sha256).exists()
    store.open_discussion(repo, "question", "?", "alice", is_pull_request=False)
    store.delete_repo(repo)
    with store._write() as db:
        assert not db.execute("SELECT 1 FROM discussion_events WHERE repo_id = ?", (repo.pk,)).fetchall()
    report = gc(tmp_path, min_age_seconds=0)
    assert report.removed_blobs >= 2 and not store.blob_path(kept.sha256).exists()  # .gitattributes and kept.txt


def test_an_lfs_upload_url_expires_and_dies_with_its_token(hub, writer):
    from hubtools.hub import lfs
    from hubtools.hub.limits import LFS_URL_LIFETIME_S
    from hubtools.hub.store.identity import hash_token

    uploader = hub.token("alice")  # alice's second token: revoking it leaves the `writer` fixture's alone
    target = unique("signed")
    hub.api(uploader).create_repo(target)
    content = os.urandom(1000)
    oid = hashlib.sha256(content).hexdigest()
    href = lfs_upload_batch_only(hub, uploader, target, oid, len(content))["actions"]["upload"]["href"]
    prefix, _, grant = href.rpartition("/")
    expires, token_hash, _ = grant.split(".")
    assert token_hash == hash_token(uploader) and 0 < int(expires) - time.time() <= LFS_URL_LIFETIME_S

    repo_pk = int(prefix.split("/")[-3])
    secret = (Path(hub.root) / "lfs-secret.key").read_bytes()
    past = int(time.time()) - 1
    expired = f"{prefix}/{past}.{token_hash}.{lfs.sign(secret, repo_pk, oid, len(content), past, token_hash)}"
    refused = httpx.put(expired, content=content)
    assert refused.status_code == 403 and "expired" in refused.json()["error"]

    from hubtools.hub import revoke_token

    assert revoke_token(hub.root, uploader)
    revoked = httpx.put(href, content=content)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]
    still_valid = lfs_upload_batch_only(hub, writer, target, oid, len(content))["actions"]["upload"]["href"]
    assert httpx.put(still_valid, content=content).status_code == 200  # a live token's URL still uploads
