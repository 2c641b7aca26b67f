"""Stock clients with hf_xet download through the embedded Hub's Xet CAS (reconstruction API), only from repos they
can read, and a file uploaded through Xet is stored once."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from huggingface_hub import HfApi, hf_hub_download

from hubtools.hub import issue_token, xet
from hubtools.hub.app import create_app
from hubtools.hub.lfs import load_secret
from hubtools.hub.xet_cas import cas_instance


@contextmanager
def hub_counting_requests(root: Path) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """The real embedded Hub app on a loopback port, with every request's (method, path) recorded."""
    app = create_app(root)
    instance_prefix = f"/xet-cas/{cas_instance(load_secret(root))}/"  # the root's CAS URL, served as /xet-cas
    seen: list[tuple[str, str]] = []

    async def recording(scope, receive, send) -> None:
        if scope["type"] == "http":
            seen.append((scope["method"], scope["path"].replace(instance_prefix, "/xet-cas/", 1)))
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(recording, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the Hub did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def read_token(endpoint: str, token: str | None, repo_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{endpoint}/api/models/{repo_id}/xet-read-token/main", headers=headers)


def reconstruction(cas_url: str, cas_token: str | None, file_hash: str, byte_range: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {cas_token}"} if cas_token else {}
    if byte_range:
        headers["Range"] = byte_range
    return httpx.get(f"{cas_url}/v1/reconstructions/{file_hash}", headers=headers)


def fetch_bytes(answer: dict) -> bytes:
    """The bytes a reconstruction answer describes, fetched from its URLs and decoded per the spec's chunk format."""
    data = b""
    for term in answer["terms"]:
        info = next(i for i in answer["fetch_info"][term["hash"]] if i["range"] == term["range"])
        span = f"bytes={info['url_range']['start']}-{info['url_range']['end']}"
        body = httpx.get(info["url"], headers={"Range": span}).raise_for_status().content
        for ref in xet.index_xorb(body):
            data += ref.read(body)
    return data[answer["offset_into_first_range"]:]


def test_stock_hf_hub_download_goes_through_the_reconstruction_api(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path / "xet-cache"))
    root = tmp_path / "hub"
    token = issue_token(root, "xena")
    payload = os.urandom(3 * 1024 * 1024) + bytes(1024 * 1024)
    with hub_counting_requests(root) as (endpoint, seen):
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo("xena/weights")
        api.upload_file(path_or_fileobj=payload, path_in_repo="weights.bin", repo_id="xena/weights")
        assert any(path.startswith("/xet-cas/v1/shards") for _, path in seen), "the upload did not go through Xet"
        assert [p for p in (root / "xorbs").rglob("*") if p.is_file()] == [], "the file is stored twice"
        file_hash = api.get_paths_info("xena/weights", ["weights.bin"])[0].xet_hash
        assert file_hash and [e.xet_hash for e in api.list_repo_tree("xena/weights") if e.path == "weights.bin"] == [file_hash]

        seen.clear()
        downloaded = hf_hub_download("xena/weights", "weights.bin", endpoint=endpoint, token=token, cache_dir=tmp_path / "c")

        assert Path(downloaded).read_bytes() == payload
        assert seen.count(("GET", f"/xet-cas/v1/reconstructions/{file_hash}")) >= 1, seen
        assert any(path.startswith("/xet-cas/v1/xorb-ranges/") for _, path in seen), seen
        assert not [path for method, path in seen if method == "GET" and "/resolve/" in path], "the body came over resolve"

        cas = read_token(endpoint, token, "xena/weights").raise_for_status().json()
        ranged = reconstruction(cas["casUrl"], cas["accessToken"], file_hash, "bytes=1000000-2999999").raise_for_status().json()
        assert fetch_bytes(ranged)[:2_000_000] == payload[1_000_000:3_000_000]
        assert reconstruction(cas["casUrl"], cas["accessToken"], file_hash, f"bytes={len(payload)}-").status_code == 416

        changed = payload[:-100_000] + os.urandom(100_000)  # its other chunks dedupe against the deleted xorb
        api.upload_file(path_or_fileobj=changed, path_in_repo="weights.bin", repo_id="xena/weights")
        again = hf_hub_download("xena/weights", "weights.bin", endpoint=endpoint, token=token, cache_dir=tmp_path / "c2")
        assert Path(again).read_bytes() == changed


def test_reconstruction_and_xorb_ranges_need_read_access_to_a_repo_holding_the_file(hub):
    owner, stranger = hub.token("xowner"), hub.token("xstranger")
    private_id, own_id = f"xowner/private-{uuid.uuid4().hex[:8]}", f"xstranger/public-{uuid.uuid4().hex[:8]}"
    hub.stock_api(owner).create_repo(private_id, private=True)
    hub.stock_api(stranger).create_repo(own_id)
    payload = os.urandom(2 * 1024 * 1024)
    hub.stock_api(owner).upload_file(path_or_fileobj=payload, path_in_repo="secret.bin", repo_id=private_id)
    file_hash = hub.stock_api(owner).get_paths_info(private_id, ["secret.bin"])[0].xet_hash
    assert file_hash
    cas = read_token(hub.endpoint, owner, private_id).raise_for_status().json()
    answer = reconstruction(cas["casUrl"], cas["accessToken"], file_hash).raise_for_status().json()
    assert hashlib.sha256(fetch_bytes(answer)).hexdigest() == hashlib.sha256(payload).hexdigest()

    assert read_token(hub.endpoint, stranger, private_id).status_code == 404
    assert read_token(hub.endpoint, None, private_id).status_code == 404
    own = read_token(hub.endpoint, stranger, own_id).raise_for_status().json()
    assert reconstruction(own["casUrl"], own["accessToken"], file_hash).status_code == 404
    assert reconstruction(cas["casUrl"], None, file_hash).status_code == 401
    url = next(iter(answer["fetch_info"].values()))[0]["url"]
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 403
    assert httpx.get(url, headers={"Range": "bytes=0-7"}).status_code == 416
    first, _ = url.split("/v1/xorb-ranges/")[1].split("?")[0].split("/")[1].split("-")
    widened = url.replace(f"/{first}-", f"/{first}-9", 1)
    assert httpx.get(widened).status_code in (403, 404)


def test_a_xorb_range_url_names_its_token_and_dies_with_it(hub):
    from hubtools.hub import revoke_token
    from hubtools.hub.store.identity import hash_token

    owner = hub.token("xleaver")
    repo_id = f"xleaver/private-{uuid.uuid4().hex[:8]}"
    hub.stock_api(owner).create_repo(repo_id, private=True)
    payload = os.urandom(1024 * 1024)
    hub.stock_api(owner).upload_file(path_or_fileobj=payload, path_in_repo="weights.bin", repo_id=repo_id)
    file_hash = hub.stock_api(owner).get_paths_info(repo_id, ["weights.bin"])[0].xet_hash
    cas = read_token(hub.endpoint, owner, repo_id).raise_for_status().json()
    answer = reconstruction(cas["casUrl"], cas["accessToken"], file_hash).raise_for_status().json()
    url = next(iter(answer["fetch_info"].values()))[0]["url"]
    assert f"&sub={hash_token(owner)}&" in url
    assert fetch_bytes(answer) == payload

    assert revoke_token(hub.root, owner)
    refused = httpx.get(url)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    assert httpx.get(url.replace("sig=", "sig=%C3%A9")).status_code == 403  # non-ASCII text is a bad signature, not a 500
    odd_token = httpx.get(f"{cas['casUrl']}/v1/reconstructions/{file_hash}", headers={"Authorization": b"Bearer xet_\xe9.\xe9"})
    assert odd_token.status_code == 401 and "Invalid Xet access token" in odd_token.json()["error"]
