"""The embedded Hub speaks Xet: stock clients with hf_xet upload through it; the CAS verifies what it stores."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import lz4.frame
import pytest
from blake3 import blake3
from huggingface_hub import hf_hub_download

from hubtools.hub import xet
from hubtools.hub.store import HubStore
from hubtools.hub.xet_cas import XetCas

ORG = "xetorg"


@pytest.fixture(scope="module")
def writer(hub) -> str:
    return hub.token("xavier", [ORG])


@pytest.fixture()
def repo(hub, writer) -> str:
    repo_id = f"{ORG}/repo-{uuid.uuid4().hex[:8]}"
    hub.stock_api(writer).create_repo(repo_id)
    return repo_id


def xorbs_stored(hub) -> int:
    return XetCas(HubStore(hub.root)).xorb_count()


def xorb_bytes_stored(hub) -> int:
    with sqlite3.connect(hub.root / "xet.sqlite") as db:
        return db.execute("SELECT COALESCE(SUM(size), 0) FROM xorbs").fetchone()[0]


def lfs_siblings(hub, token: str, repo_id: str, repo_type: str = "model", revision: str | None = None) -> dict[str, object]:
    info = hub.stock_api(token).repo_info(repo_id, repo_type=repo_type, revision=revision, files_metadata=True)
    return {s.rfilename: s.lfs for s in info.siblings}


def cas_token(hub, token: str, repo_id: str, scope: str = "write") -> tuple[str, str]:
    answer = httpx.get(f"{hub.endpoint}/api/models/{repo_id}/xet-{scope}-token/main", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    body = answer.json()
    assert answer.headers["X-Xet-Access-Token"] == body["accessToken"] and int(answer.headers["X-Xet-Token-Expiration"]) == body["exp"]
    return body["casUrl"], body["accessToken"]


def serialize_xorb(chunks: list[tuple[int, bytes]]) -> bytes:
    """Chunks as (compression scheme, raw data), serialized per the spec's chunk format."""
    body = b""
    for scheme, data in chunks:
        if scheme == xet.COMPRESSION_LZ4:
            payload = lz4.frame.compress(data)
        elif scheme == xet.COMPRESSION_BG4_LZ4:
            payload = lz4.frame.compress(b"".join(data[g::4] for g in range(4)))
        else:
            payload = data
        body += struct.pack("<B", 0) + len(payload).to_bytes(3, "little") + struct.pack("<B", scheme)
        body += len(data).to_bytes(3, "little") + payload
    return body


def serialize_shard(xorb_hash: bytes, chunks: list[bytes], sha256: str, file_hash: bytes | None = None) -> bytes:
    """A one-file, one-term upload shard over all `chunks` of a xorb (verification and sha256 sections set)."""
    pairs = [(xet.chunk_hash(c), len(c)) for c in chunks]
    flags = xet.FLAG_WITH_VERIFICATION | xet.FLAG_WITH_METADATA_EXT
    body = xet.SHARD_HEADER.pack(xet.SHARD_TAG, 2, 0)
    body += xet.ENTRY.pack(file_hash or xet.file_hash(pairs), flags, 1, 0, 0)
    body += xet.ENTRY.pack(xorb_hash, 0, sum(len(c) for c in chunks), 0, len(chunks))
    body += xet.HASH_AND_PAD.pack(xet.verification_hash([h for h, _ in pairs]))
    body += xet.HASH_AND_PAD.pack(xet.hash_from_hex(sha256))
    body += xet.HASH_AND_PAD.pack(xet.BOOKEND_HASH) + xet.HASH_AND_PAD.pack(xet.BOOKEND_HASH)
    return body


def commit_lfs_file(hub, token: str, repo_id: str, sha256: str, size: int) -> httpx.Response:
    header = {"key": "header", "value": {"summary": "add by hash"}}
    line = {"key": "lfsFile", "value": {"path": f"{sha256[:8]}.bin", "algo": "sha256", "oid": sha256, "size": size}}
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content="\n".join(json.dumps(x) for x in (header, line)),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_hashes_match_the_reference_implementation():
    """Vectors from xet-core's merklehash tests (hash strings, sizes) -> xorb hash and file hash."""
    a, b, c = (xet.hash_from_hex(h) for h in (
        "cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6",
        "c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72",
        "0d2beb91b9196929a5ddec9f6e306924ddf4a24268e3e59fd8464738d525af37",
    ))
    d = xet.hash_from_hex("adf8773496a9b7319b2e50dc98093f344053b17d8ad37100b9c07d9805988784")
    three = [(a, 100), (b, 200), (c, 300)]
    assert xet.hash_hex(xet.merkle_root(three)) == "71ec1275fca074724e2dd666921b3277c7cee603e4d025bcab2d4050015be2bc"
    assert xet.hash_hex(xet.file_hash(three)) == "54e55dccc6653c612bdb5576c5d3cb34bb31bc4e100248abccf4c908b3ef7715"
    six = [(a, 100), (b, 200), (a, 100), (b, 200), (c, 300), (d, 400)]
    assert xet.hash_hex(xet.merkle_root(six)) == "52c826f99507aa05d0b45e9837fa1709e0485425cfbcb1e80db3905cf98b3ee9"


def test_xorbs_in_every_compression_scheme_are_verified_and_a_wrong_hash_is_refused(hub, writer, repo):
    cas_url, token = cas_token(hub, writer, repo)
    auth = {"Authorization": f"Bearer {token}"}
    data = [os.urandom(5000), bytes(range(256)) * 40, struct.pack("<2000f", *[i / 7 for i in range(2000)])]
    schemes = [xet.COMPRESSION_NONE, xet.COMPRESSION_LZ4, xet.COMPRESSION_BG4_LZ4]
    body = serialize_xorb(list(zip(schemes, data)))
    right = xet.hash_hex(xet.merkle_root([(xet.chunk_hash(d), len(d)) for d in data]))
    wrong = xet.hash_hex(xet.merkle_root([(xet.chunk_hash(d), len(d)) for d in data[:2]]))
    refused = httpx.post(f"{cas_url}/v1/xorbs/default/{wrong}", content=body, headers=auth)
    assert refused.status_code == 400 and "hash mismatch" in refused.json()["error"]
    garbled = httpx.post(f"{cas_url}/v1/xorbs/default/{right}", content=body[:-10], headers=auth)
    assert garbled.status_code == 400
    stored = httpx.post(f"{cas_url}/v1/xorbs/default/{right}", content=body, headers=auth)
    assert stored.status_code == 200 and stored.json() == {"was_inserted": True}
    again = httpx.post(f"{cas_url}/v1/xorbs/default/{right}", content=body, headers=auth)
    assert again.json() == {"was_inserted": False}
    dedupe = httpx.get(f"{cas_url}/v1/chunks/default-merkledb/{xet.hash_hex(xet.chunk_hash(data[0]))}", headers=auth)
    assert dedupe.status_code == 200
    (listed,) = xet.read_shard(dedupe.content).xorbs
    hmac_key = xet.FOOTER.unpack(dedupe.content[-xet.FOOTER.size:])[9]
    assert listed.hash == xet.hash_from_hex(right)
    assert [h for h, _ in listed.chunks] == [blake3(xet.chunk_hash(d), key=hmac_key).digest() for d in data]  # keyed only
    unknown = httpx.get(f"{cas_url}/v1/chunks/default-merkledb/{xet.hash_hex(xet.chunk_hash(b'never'))}", headers=auth)
    assert unknown.status_code == 404


def test_shards_naming_an_unknown_xorb_or_a_wrong_sha256_are_refused(hub, writer, repo):
    cas_url, token = cas_token(hub, writer, repo)
    auth = {"Authorization": f"Bearer {token}"}
    chunks = [os.urandom(3000), os.urandom(4000)]
    xorb_hash = xet.merkle_root([(xet.chunk_hash(c), len(c)) for c in chunks])
    sha256 = hashlib.sha256(b"".join(chunks)).hexdigest()
    unknown = httpx.post(f"{cas_url}/v1/shards", content=serialize_shard(xorb_hash, chunks, sha256), headers=auth)
    assert unknown.status_code == 400 and "never uploaded" in unknown.json()["error"]
    httpx.post(f"{cas_url}/v1/xorbs/default/{xet.hash_hex(xorb_hash)}", content=serialize_xorb([(0, c) for c in chunks]), headers=auth).raise_for_status()
    lying = httpx.post(f"{cas_url}/v1/shards", content=serialize_shard(xorb_hash, chunks, "0" * 64), headers=auth)
    assert lying.status_code == 400 and "sha256" in lying.json()["error"]
    wrong_file = serialize_shard(xorb_hash, chunks, sha256, file_hash=xet.chunk_hash(b"other"))
    assert httpx.post(f"{cas_url}/v1/shards", content=wrong_file, headers=auth).status_code == 400
    assert not HubStore(hub.root).has_blob(sha256)
    accepted = httpx.post(f"{cas_url}/v1/shards", content=serialize_shard(xorb_hash, chunks, sha256), headers=auth)
    assert accepted.status_code == 200 and HubStore(hub.root).has_blob(sha256, 7000)


def test_cas_tokens_are_scoped_to_a_repo_and_a_scope(hub, writer, repo):
    reader = hub.token("mallory", read_only=True)  # a write token of a non-member may upload for a community PR
    refused = httpx.get(f"{hub.endpoint}/api/models/{repo}/xet-write-token/main", headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403
    hub.stock_api(writer).update_repo_settings(repo, private=True)
    hidden = httpx.get(f"{hub.endpoint}/api/models/{repo}/xet-write-token/main", headers={"Authorization": f"Bearer {hub.token('mallory')}"})
    assert hidden.status_code == 404  # a private repo: no community PRs, and not told apart from a missing one
    hub.stock_api(writer).update_repo_settings(repo, private=False)
    no_branch = httpx.get(f"{hub.endpoint}/api/models/{repo}/xet-read-token/no-such-branch", headers={"Authorization": f"Bearer {writer}"})
    assert no_branch.status_code == 404 and no_branch.headers["X-Error-Code"] == "RevisionNotFound"
    cas_url, read_token = cas_token(hub, writer, repo, scope="read")
    body = serialize_xorb([(0, b"some bytes")])
    url = f"{cas_url}/v1/xorbs/default/{xet.hash_hex(xet.merkle_root([(xet.chunk_hash(b'some bytes'), 10)]))}"
    assert httpx.post(url, content=body, headers={"Authorization": f"Bearer {read_token}"}).status_code == 403
    claims, signature = read_token[len("xet_"):].rsplit(".", 1)
    forged = "xet_" + claims.replace(claims[-4:], "AAAA") + "." + signature
    assert httpx.post(url, content=body, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert httpx.post(url, content=body).status_code == 401
    assert httpx.post(f"{cas_url}/v1/shards", content=b"", headers={"Authorization": f"Bearer {read_token}"}).status_code == 403

    other_repo = f"{ORG}/other-{uuid.uuid4().hex[:6]}"
    hub.stock_api(writer).create_repo(other_repo)
    cas_url, write_token = cas_token(hub, writer, repo)
    auth = {"Authorization": f"Bearer {write_token}"}
    chunks = [os.urandom(3000)]
    xorb_hash = xet.merkle_root([(xet.chunk_hash(chunks[0]), 3000)])
    sha256 = hashlib.sha256(chunks[0]).hexdigest()
    httpx.post(f"{cas_url}/v1/xorbs/default/{xet.hash_hex(xorb_hash)}", content=serialize_xorb([(0, chunks[0])]), headers=auth).raise_for_status()
    httpx.post(f"{cas_url}/v1/shards", content=serialize_shard(xorb_hash, chunks, sha256), headers=auth).raise_for_status()
    assert commit_lfs_file(hub, writer, other_repo, sha256, 3000).status_code == 400  # uploaded for `repo` only
    assert commit_lfs_file(hub, writer, repo, sha256, 3000).status_code == 200


def test_stock_upload_file_and_upload_folder_go_through_xet(hub, writer, repo, tmp_path):
    payload = os.urandom(3 * 1024 * 1024) + bytes(2 * 1024 * 1024)
    folder = tmp_path / "folder"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "weights.safetensors").write_bytes(payload[::-1])
    (folder / "notes.txt").write_text("small text stays a regular file")
    before = xorbs_stored(hub)
    api = hub.stock_api(writer)
    api.upload_file(path_or_fileobj=payload, path_in_repo="blob.bin", repo_id=repo)
    api.upload_folder(repo_id=repo, folder_path=folder)
    assert xorbs_stored(hub) > before
    lfs = lfs_siblings(hub, writer, repo)
    assert lfs["blob.bin"].sha256 == hashlib.sha256(payload).hexdigest() and lfs["blob.bin"].size == len(payload)
    assert lfs["nested/weights.safetensors"].sha256 == hashlib.sha256(payload[::-1]).hexdigest()
    assert lfs["notes.txt"] is None
    assert Path(hf_hub_download(repo, "blob.bin", cache_dir=tmp_path / "cache")).read_bytes() == payload
    proposal = api.upload_file(path_or_fileobj=payload[::2], path_in_repo="proposed.bin", repo_id=repo, create_pr=True)
    assert "proposed.bin" in lfs_siblings(hub, writer, repo, revision=proposal.pr_revision)


@pytest.mark.slow
def test_an_incompressible_file_over_64_mib_uploads(hub, writer, repo, tmp_path):
    """hf_xet fills a xorb with 64 MiB of chunk data: random bytes serialize to slightly more than 64 MiB."""
    path = tmp_path / "random.bin"
    path.write_bytes(os.urandom(70 * 1024 * 1024))
    hub.stock_api(writer).upload_file(path_or_fileobj=path, path_in_repo="random.bin", repo_id=repo)
    assert lfs_siblings(hub, writer, repo)["random.bin"].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hf_upload_cli_goes_through_xet(hub, writer, repo, tmp_path):
    payload = os.urandom(2 * 1024 * 1024)
    (tmp_path / "model.safetensors").write_bytes(payload)
    hf = Path(sys.executable).parent / "hf"
    env = {**os.environ, "HF_TOKEN": writer, "HF_ENDPOINT": hub.endpoint}
    before = xorbs_stored(hub)
    result = subprocess.run([str(hf), "upload", repo, str(tmp_path / "model.safetensors")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert xorbs_stored(hub) > before
    assert lfs_siblings(hub, writer, repo)["model.safetensors"].sha256 == hashlib.sha256(payload).hexdigest()


def test_a_changed_file_resends_only_new_chunks_through_global_dedupe(hub, writer, repo, tmp_path):
    """Each upload runs `hf upload` in a new process with an empty Xet cache: only the Hub's dedupe answers help."""
    payload = bytearray(os.urandom(8 * 1024 * 1024))
    path = tmp_path / "weights.bin"
    hf = Path(sys.executable).parent / "hf"
    stored = []
    for round_number in range(2):
        path.write_bytes(payload)
        env = {**os.environ, "HF_TOKEN": writer, "HF_ENDPOINT": hub.endpoint, "HF_XET_CACHE": str(tmp_path / f"cache-{round_number}")}
        before = xorb_bytes_stored(hub)
        subprocess.run([str(hf), "upload", repo, str(path), "weights.bin"], env=env, check=True, capture_output=True, timeout=120)
        stored.append(xorb_bytes_stored(hub) - before)
        payload[-200_000:] = os.urandom(200_000)
    assert stored[0] > 8 * 1024 * 1024 * 0.99 and 0 < stored[1] < 1024 * 1024, stored
    assert lfs_siblings(hub, writer, repo)["weights.bin"].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_uploaded_again_after_its_repo_was_deleted_is_accepted_from_the_clients_shard_cache(hub, writer, tmp_path):
    """hf_xet remembers the xorbs it uploaded (per CAS URL) and never sends them again, also not to another repo or
    after the first repo is gone: the Hub accepts a shard naming them from the user who uploaded them."""
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    hf = Path(sys.executable).parent / "hf"
    env = {**os.environ, "HF_TOKEN": writer, "HF_ENDPOINT": hub.endpoint, "HF_XET_CACHE": str(tmp_path / "cache")}
    api = hub.stock_api(writer)
    first, second = (f"{ORG}/again-{uuid.uuid4().hex[:8]}" for _ in range(2))
    api.create_repo(first)
    subprocess.run([str(hf), "upload", first, str(path), "weights.bin"], env=env, check=True, capture_output=True, timeout=120)
    api.delete_repo(first)
    api.create_repo(second)
    before = xorbs_stored(hub)
    again = subprocess.run([str(hf), "upload", second, str(path), "weights.bin"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-500:]
    assert xorbs_stored(hub) == before  # nothing was sent again
    assert lfs_siblings(hub, writer, second)["weights.bin"].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_datasets_push_to_hub_then_load_dataset(hub, writer, tmp_path):
    import datasets

    repo_id = f"{ORG}/ds-{uuid.uuid4().hex[:6]}"
    rows = {"text": [f"tweet number {i}" for i in range(50)], "label": [i % 3 for i in range(50)]}
    before = xorbs_stored(hub)
    datasets.Dataset.from_dict(rows).push_to_hub(repo_id, token=writer)
    assert xorbs_stored(hub) > before
    parquet = [path for path, lfs in lfs_siblings(hub, writer, repo_id, "dataset").items() if path.endswith(".parquet")]
    assert parquet and all(lfs_siblings(hub, writer, repo_id, "dataset")[p] is not None for p in parquet)
    loaded = datasets.load_dataset(repo_id, token=writer, cache_dir=str(tmp_path / "cache"))
    assert loaded["train"]["text"] == rows["text"] and loaded["train"]["label"] == rows["label"]


def test_transformers_push_to_hub_goes_through_xet(hub, writer, tmp_path):
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    repo_id = f"{ORG}/bert-{uuid.uuid4().hex[:6]}"
    config = BertConfig(vocab_size=500, hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=128)
    model = BertForSequenceClassification(config)
    before = xorbs_stored(hub)
    model.push_to_hub(repo_id, token=writer)
    assert xorbs_stored(hub) > before
    assert lfs_siblings(hub, writer, repo_id)["model.safetensors"] is not None
    reloaded = AutoModelForSequenceClassification.from_pretrained(repo_id, token=writer, cache_dir=tmp_path / "cache")
    assert all((a == b).all() for a, b in zip(model.state_dict().values(), reloaded.state_dict().values()))


def test_lfs_uploads_without_xet_are_recorded_as_lfs(hub, writer, repo, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    payload = os.urandom(2 * 1024 * 1024)
    hub.stock_api(writer).upload_file(path_or_fileobj=payload, path_in_repo="plain-lfs.bin", repo_id=repo)
    assert lfs_siblings(hub, writer, repo)["plain-lfs.bin"].sha256 == hashlib.sha256(payload).hexdigest()


def test_a_shard_cannot_claim_the_sha256_of_someone_elses_file(hub, writer, repo):
    victim = hub.token("victoria")
    private_repo = f"victoria/secret-{uuid.uuid4().hex[:6]}"
    hub.stock_api(victim).create_repo(private_repo, private=True)
    secret = os.urandom(1024 * 1024)
    hub.stock_api(victim).upload_file(path_or_fileobj=secret, path_in_repo="secret.bin", repo_id=private_repo)
    claimed = hashlib.sha256(secret).hexdigest()
    cas_url, token = cas_token(hub, writer, repo)
    auth = {"Authorization": f"Bearer {token}"}
    chunks = [os.urandom(2000)]
    xorb_hash = xet.merkle_root([(xet.chunk_hash(chunks[0]), 2000)])
    httpx.post(f"{cas_url}/v1/xorbs/default/{xet.hash_hex(xorb_hash)}", content=serialize_xorb([(0, chunks[0])]), headers=auth).raise_for_status()
    refused = httpx.post(f"{cas_url}/v1/shards", content=serialize_shard(xorb_hash, chunks, claimed), headers=auth)
    assert refused.status_code == 400 and "sha256" in refused.json()["error"]
    assert commit_lfs_file(hub, writer, repo, claimed, len(secret)).status_code >= 400
    assert f"{claimed[:8]}.bin" not in {s.rfilename for s in hub.stock_api(writer).model_info(repo).siblings}
