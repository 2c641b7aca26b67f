"""The embedded Hub's defences: body limits before reading, names, resolve headers, blob scoping, gc."""

from __future__ import annotations

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

from hub_support import ORG, repo, unique, writer  # noqa: F401 (fixtures)

MB = 1024 * 1024


def server_rss_mb(hub) -> float:
    status = Path(f"/proc/{hub.server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


def raw_post(hub, path: str, headers: dict[str, str], chunks=(), timeout: float = 20) -> tuple[int, dict[str, str], int]:
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
    rss_before = server_rss_mb(hub)
    started = time.monotonic()
    status, headers, _ = raw_post(hub, "/api/validate-yaml", {"Content-Length": str(600 * MB), "Content-Type": "application/json"})
    assert status == 413 and "600" in headers["x-error-message"]
    assert time.monotonic() - started < 2

    streamed = (b"x" * MB for _ in range(600))
    status, headers, sent = raw_post(hub, "/api/validate-yaml", {"Transfer-Encoding": "chunked"}, streamed)
    assert status == 413 and sent < 100 * MB  # refused once past the 10 MB JSON limit, long before 600 MB
    assert server_rss_mb(hub) - rss_before < 50


def test_authenticated_routes_answer_401_before_reading_a_body(hub, repo):
    for path in (f"/api/models/{repo}/commit/main", "/api/repos/create", f"/{repo}.git/info/lfs/objects/batch"):
        started = time.monotonic()
        status, _, _ = raw_post(hub, path, {"Content-Length": str(5 * MB)})  # under every limit; never sent
        assert status == 401, path
        assert time.monotonic() - started < 2


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
    missing = httpx.get(f"{hub.endpoint}/api/models/{ORG}/does-not-exist-{uuid.uuid4().hex[:6]}/likers")
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "RepoNotFound"
