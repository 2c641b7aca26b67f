"""The embedded Hub against hostile input (issue 16): no existence oracle in the Xet CAS, no decompression or
amplification bomb, bounded parsing, tokens that can be revoked.

Resource checks count bytes (peak RSS, bytes written by the server process) rather than wall time, with bounds
generous enough to hold on a machine at load 20.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import statistics
import struct
import subprocess
import sys
import time
import tracemalloc
import unicodedata
import uuid
from pathlib import Path

import httpx
import lz4.frame
import pytest

from hubtools.hub import xet
from hubtools.hub.limits import MAX_FILE_BYTES
from hubtools.hub.parsing import YamlTooLarge, load_yaml, loads_json
from hubtools.hub.errors import InvalidRequest
from hubtools.hub.store import HubStore
from test_hub_xet import cas_token, serialize_shard, serialize_xorb

MB = 1024 * 1024


def server_status_mb(hub, field: str) -> float:
    status = Path(f"/proc/{hub.server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(field)).split()[1]) / 1024


def server_bytes_written(hub) -> int:
    """Bytes the server process passed to write() so far (files and sockets): what a request made it write."""
    io = Path(f"/proc/{hub.server.process.pid}/io").read_text()
    return int(next(line for line in io.splitlines() if line.startswith("wchar")).split()[1])


def new_repo(hub, token: str, namespace: str, private: bool = False) -> str:
    repo_id = f"{namespace}/hostile-{uuid.uuid4().hex[:8]}"
    hub.stock_api(token).create_repo(repo_id, private=private)
    return repo_id


def upload_xorb(cas_url: str, token: str, chunks: list[bytes]) -> str:
    xorb_hex = xet.hash_hex(xet.merkle_root([(xet.chunk_hash(c), len(c)) for c in chunks]))
    answer = httpx.post(f"{cas_url}/v1/xorbs/default/{xorb_hex}", content=serialize_xorb([(0, c) for c in chunks]),
                        headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return xorb_hex


def dedupe_status(cas_url: str, token: str, chunk: bytes) -> int:
    chunk_hex = xet.hash_hex(xet.chunk_hash(chunk))
    return httpx.get(f"{cas_url}/v1/chunks/default-merkledb/{chunk_hex}", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.fixture(scope="module")
def victim(hub) -> str:
    return hub.token("vera-hostile")


@pytest.fixture(scope="module")
def attacker(hub) -> str:
    return hub.token("mallory-hostile")


# ---------------------------------------------------------------------- 1. Xet existence oracle


def test_global_dedupe_answers_only_from_xorbs_of_repos_the_caller_can_read(hub, victim, attacker):
    secret_chunks = [os.urandom(3000), os.urandom(5000)]
    private_repo = new_repo(hub, victim, "vera-hostile", private=True)
    victim_cas, victim_token = cas_token(hub, victim, private_repo)
    upload_xorb(victim_cas, victim_token, secret_chunks)
    assert dedupe_status(victim_cas, victim_token, secret_chunks[0]) == 200  # the owner still dedupes

    public_repo = new_repo(hub, victim, "vera-hostile")
    anonymous_token = httpx.get(f"{hub.endpoint}/api/models/{public_repo}/xet-read-token/main").json()["accessToken"]
    attacker_repo = new_repo(hub, attacker, "mallory-hostile")
    _, attacker_token = cas_token(hub, attacker, attacker_repo)
    for token in (anonymous_token, attacker_token):
        assert dedupe_status(victim_cas, token, secret_chunks[0]) == 404  # as for a chunk stored nowhere
        assert dedupe_status(victim_cas, token, os.urandom(100)) == 404

    hub.stock_api(victim).update_repo_settings(private_repo, private=False)  # once readable, it dedupes
    assert dedupe_status(victim_cas, attacker_token, secret_chunks[0]) == 200


def test_a_xorb_upload_is_verified_before_it_is_answered(hub, victim, attacker):
    chunks = [os.urandom(4000)]
    private_repo = new_repo(hub, victim, "vera-hostile", private=True)
    victim_cas, victim_token = cas_token(hub, victim, private_repo)
    xorb_hex = upload_xorb(victim_cas, victim_token, chunks)

    _, attacker_token = cas_token(hub, attacker, new_repo(hub, attacker, "mallory-hostile"))
    auth = {"Authorization": f"Bearer {attacker_token}"}
    garbage = httpx.post(f"{victim_cas}/v1/xorbs/default/{xorb_hex}", content=b"\x00" * 64, headers=auth)
    assert garbage.status_code == 400 and "was_inserted" not in garbage.text
    proven = httpx.post(f"{victim_cas}/v1/xorbs/default/{xorb_hex}", content=serialize_xorb([(0, chunks[0])]), headers=auth)
    assert proven.json() == {"was_inserted": False}  # sending the whole body proves possession


def test_a_shard_cannot_use_a_xorb_of_an_unreadable_repo_nor_learn_hashes_from_errors(hub, victim, attacker):
    chunks = [os.urandom(2000), os.urandom(3000)]
    private_repo = new_repo(hub, victim, "vera-hostile", private=True)
    victim_cas, victim_token = cas_token(hub, victim, private_repo)
    xorb_hex = upload_xorb(victim_cas, victim_token, chunks)
    real_sha256 = hashlib.sha256(b"".join(chunks)).hexdigest()

    attacker_repo = new_repo(hub, attacker, "mallory-hostile")
    _, attacker_token = cas_token(hub, attacker, attacker_repo)
    auth = {"Authorization": f"Bearer {attacker_token}"}
    stolen = httpx.post(f"{victim_cas}/v1/shards", content=serialize_shard(xet.hash_from_hex(xorb_hex), chunks, real_sha256), headers=auth)
    never = serialize_shard(xet.chunk_hash(b"no such xorb"), chunks, real_sha256)
    missing = httpx.post(f"{victim_cas}/v1/shards", content=never, headers=auth)
    assert stolen.status_code == missing.status_code == 400
    assert stolen.json()["error"].replace(xorb_hex, "X") == missing.json()["error"].replace(xet.hash_hex(xet.chunk_hash(b"no such xorb")), "X")

    own = [os.urandom(2500)]
    own_hex = upload_xorb(victim_cas, attacker_token, own)
    own_sha256 = hashlib.sha256(own[0]).hexdigest()
    own_pairs = [(xet.chunk_hash(own[0]), len(own[0]))]
    lying = httpx.post(f"{victim_cas}/v1/shards", content=serialize_shard(xet.hash_from_hex(own_hex), own, "0" * 64), headers=auth)
    wrong_file = serialize_shard(xet.hash_from_hex(own_hex), own, own_sha256, file_hash=xet.chunk_hash(b"other"))
    wrong_hash = httpx.post(f"{victim_cas}/v1/shards", content=wrong_file, headers=auth)
    assert lying.status_code == wrong_hash.status_code == 400
    assert own_sha256 not in lying.text  # the shard stated "000..."; the real sha256 is not told
    assert xet.hash_hex(xet.file_hash(own_pairs)) not in wrong_hash.text


# ---------------------------------------------------------------------- 3. LZ4 decompression bomb


def lz4_bomb(expanded_mb: int) -> bytes:
    """One LZ4 frame of `expanded_mb` MiB of zeros, compressed a MiB at a time (this process never holds it whole)."""
    compressor = lz4.frame.LZ4FrameCompressor()
    parts = [compressor.begin()]
    zeros = bytes(MB)
    parts += [compressor.compress(zeros) for _ in range(expanded_mb)]
    parts.append(compressor.flush())
    return b"".join(parts)


def bomb_xorb(payload: bytes, declared: int) -> bytes:
    header = struct.pack("<B", 0) + len(payload).to_bytes(3, "little") + struct.pack("<B", xet.COMPRESSION_LZ4)
    return header + declared.to_bytes(3, "little") + payload


def test_an_lz4_chunk_is_decompressed_no_further_than_its_declared_size():
    payload = lz4_bomb(256)
    tracemalloc.start()
    try:
        with pytest.raises(xet.XetFormatError, match="does not decompress to the 1000 bytes"):
            xet.decompress_chunk(xet.COMPRESSION_LZ4, payload, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB  # the 256 MiB output is never allocated


def test_an_lz4_bomb_xorb_is_refused_without_expanding_it(hub, victim):
    payload = lz4_bomb(512)
    assert len(payload) < 4 * MB
    cas_url, token = cas_token(hub, victim, new_repo(hub, victim, "vera-hostile"))
    peak_before = server_status_mb(hub, "VmHWM")
    rss_before = server_status_mb(hub, "VmRSS")
    answer = httpx.post(f"{cas_url}/v1/xorbs/default/{'0' * 64}", content=bomb_xorb(payload, 65536),
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 400 and "65536 bytes" in answer.json()["error"]
    # Generous: the body itself (< 4 MiB) is memory-mapped; expanding it would add 512 MiB.
    assert server_status_mb(hub, "VmHWM") - max(peak_before, rss_before) < 128


# ---------------------------------------------------------------------- 4. shard amplification


def repeated_term_shard(xorb_hash: bytes, chunks: list[bytes], repeats: int, sha256: str) -> bytes:
    """A one-file shard whose `repeats` terms all cover every chunk of one xorb (a file of repeated content)."""
    pairs = [(xet.chunk_hash(c), len(c)) for c in chunks]
    flags = xet.FLAG_WITH_VERIFICATION | xet.FLAG_WITH_METADATA_EXT
    body = xet.SHARD_HEADER.pack(xet.SHARD_TAG, 2, 0)
    body += xet.ENTRY.pack(xet.file_hash(pairs * repeats), flags, repeats, 0, 0)
    body += xet.ENTRY.pack(xorb_hash, 0, sum(len(c) for c in chunks), 0, len(chunks)) * repeats
    body += xet.HASH_AND_PAD.pack(xet.verification_hash([h for h, _ in pairs])) * repeats
    body += xet.HASH_AND_PAD.pack(xet.hash_from_hex(sha256))
    return body + xet.HASH_AND_PAD.pack(xet.BOOKEND_HASH) * 2


def test_a_shard_with_a_wrong_sha256_writes_nothing_big(hub, attacker):
    chunks = [os.urandom(128 * 1024) for _ in range(8)]  # a 1 MiB xorb
    cas_url, token = cas_token(hub, attacker, new_repo(hub, attacker, "mallory-hostile"))
    xorb_hex = upload_xorb(cas_url, token, chunks)
    shard = repeated_term_shard(xet.hash_from_hex(xorb_hex), chunks, 200, "0" * 64)
    assert len(shard) < 20_000
    written_before = server_bytes_written(hub)
    answer = httpx.post(f"{cas_url}/v1/shards", content=shard, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    assert answer.status_code == 400 and "sha256" in answer.json()["error"]
    assert server_bytes_written(hub) - written_before < 4 * MB  # the claimed file is 200 MiB


def test_a_shard_file_over_the_file_size_limit_is_refused_before_it_is_read(hub, attacker):
    chunks = [os.urandom(128 * 1024)]
    cas_url, token = cas_token(hub, attacker, new_repo(hub, attacker, "mallory-hostile"))
    xorb_hex = upload_xorb(cas_url, token, chunks)
    repeats = MAX_FILE_BYTES // len(chunks[0]) + 1  # one chunk over and over: a 38 MB shard claiming 50 GB
    shard = repeated_term_shard(xet.hash_from_hex(xorb_hex), chunks, repeats, "0" * 64)
    written_before = server_bytes_written(hub)
    answer = httpx.post(f"{cas_url}/v1/shards", content=shard, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    assert answer.status_code == 400 and f"at most {MAX_FILE_BYTES} bytes" in answer.json()["error"]
    assert server_bytes_written(hub) - written_before < 4 * MB


# ---------------------------------------------------------------------- 2 and 6. bounded parsing

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7)
)  # about 300 bytes standing for 10**8 nodes


def test_yaml_aliases_are_expanded_only_within_a_small_budget():
    with pytest.raises(YamlTooLarge, match="aliases expand to more than"):
        load_yaml(BILLION_LAUGHS)
    assert load_yaml("base: &base {lr: 0.1}\nrun: *base\n") == {"base": {"lr": 0.1}, "run": {"lr": 0.1}}


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 200))])
def test_yaml_nested_past_the_limit_is_refused_before_it_is_composed(text):
    with pytest.raises(YamlTooLarge, match="nests deeper than"):
        load_yaml(text)


def test_json_nested_past_the_limit_is_a_400_and_brackets_in_strings_do_not_count():
    with pytest.raises(InvalidRequest, match="nests deeper than"):
        loads_json(b"[" * 100_000 + b"]" * 100_000, "Body")
    assert loads_json(b'{"a": "[[[[\\"{{{{", "b": [[1]]}', "Body") == {"a": '[[[["{{{{', "b": [[1]]}


def test_a_commit_line_nested_100000_deep_is_a_400(hub, attacker):
    repo_id = new_repo(hub, attacker, "mallory-hostile")
    header = b'{"key": "header", "value": {"summary": "deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    answer = httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content=header,
                        headers={"Authorization": f"Bearer {attacker}", "Content-Type": "application/x-ndjson"})
    assert answer.status_code == 400 and "line 1 nests deeper than" in answer.json()["error"]


# ---------------------------------------------------------------------- 5. read-only tokens


def test_a_read_only_token_cannot_open_comment_rename_or_close_a_discussion(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    discussion = hub.stock_api(victim).create_discussion(repo_id, title="Opened by the owner")
    reader = hub.token("vera-hostile", read_only=True)
    base = f"{hub.endpoint}/api/models/{repo_id}/discussions"
    auth = {"Authorization": f"Bearer {reader}"}
    attempts = {
        "create": httpx.post(base, json={"title": "Read-only", "description": "x"}, headers=auth),
        "comment": httpx.post(f"{base}/{discussion.num}/comment", json={"comment": "hello"}, headers=auth),
        "rename": httpx.post(f"{base}/{discussion.num}/title", json={"title": "Renamed"}, headers=auth),
        "status": httpx.post(f"{base}/{discussion.num}/status", json={"status": "closed"}, headers=auth),
    }
    assert {what: answer.status_code for what, answer in attempts.items()} == dict.fromkeys(attempts, 403)
    assert all("read-only" in answer.json()["error"] for answer in attempts.values())
    details = hub.stock_api(victim).get_discussion_details(repo_id, discussion.num)
    assert details.title == "Opened by the owner" and details.status == "open" and len(details.events) == 1


def test_a_discussion_number_too_large_for_the_database_is_refused_not_a_500(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    base = f"{hub.endpoint}/api/models/{repo_id}/discussions/99999999999999999999"
    auth = {"Authorization": f"Bearer {victim}"}
    for answer in (httpx.get(base, headers=auth), httpx.post(f"{base}/comment", json={"comment": "x"}, headers=auth)):
        assert 400 <= answer.status_code < 500


# ---------------------------------------------------------------------- 7. names


def commit_text_file(hub, token: str, repo_id: str, path: str, text: str = "hello") -> httpx.Response:
    content = base64.b64encode(text.encode()).decode()
    lines = [{"key": "header", "value": {"summary": f"add {path[:20]}"}},
             {"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}}]
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content="\n".join(json.dumps(x) for x in lines),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_paths_are_nfc_with_short_components_and_no_bidi_controls(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    assert commit_text_file(hub, victim, repo_id, unicodedata.normalize("NFC", "café.txt")).status_code == 200
    assert commit_text_file(hub, victim, repo_id, unicodedata.normalize("NFD", "café.txt")).status_code == 200
    assert hub.stock_api(victim).list_repo_files(repo_id) == [".gitattributes", unicodedata.normalize("NFC", "café.txt")]
    for path, reason in (("a" * 256 + ".txt", "longer than 255 bytes"), ("é" * 128, "longer than 255 bytes"),
                         ("invoice\u202etxt.exe", "bidirectional"), ("x\ud800.txt", "control characters")):
        answer = commit_text_file(hub, victim, repo_id, path)
        assert answer.status_code == 400 and reason in answer.json()["error"], path
    assert commit_text_file(hub, victim, repo_id, "d/" + "a" * 255).status_code == 200


def test_a_branch_given_as_refs_heads_x_is_branch_x(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    hub.stock_api(victim).create_branch(repo_id, branch="refs/heads/feature")
    assert "feature" in {b.name for b in hub.stock_api(victim).list_repo_refs(repo_id).branches}
    refused = httpx.post(f"{hub.endpoint}/api/models/{repo_id}/branch/refs%2Fpr%2F1", headers={"Authorization": f"Bearer {victim}"})
    assert refused.status_code == 400 and "reserved" in refused.json()["error"]


# ---------------------------------------------------------------------- 6. answers for hostile paths (found by tests/test_hub_fuzz.py)


@pytest.mark.parametrize("path", ["/api/%0D/x/revision/0", "/api/spaces/1/%1D/runtime", "/api/models/a/b%20"])
def test_a_path_with_control_characters_or_a_trailing_space_gets_an_answer(hub, path):
    answer = httpx.get(hub.endpoint + path)  # the X-Error-Message copy of the path once made uvicorn drop the connection
    assert 400 <= answer.status_code < 500 or answer.status_code == 501


def test_a_yaml_alias_bomb_in_a_readme_is_not_expanded_by_repo_info(hub, attacker):
    repo_id = new_repo(hub, attacker, "mallory-hostile")
    readme = f"---\n{BILLION_LAUGHS}---\n# Card\n"
    assert commit_text_file(hub, attacker, repo_id, "README.md", readme).status_code == 200
    peak_before = server_status_mb(hub, "VmHWM")
    answer = httpx.get(f"{hub.endpoint}/api/models/{repo_id}", timeout=60)  # anonymous, as in the audit
    assert answer.status_code == 200 and len(answer.content) < 100_000 and answer.json()["cardData"] is None
    assert server_status_mb(hub, "VmHWM") - peak_before < 64


@pytest.mark.parametrize("body", [
    b'{"content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    json.dumps({"content": "---\n" + "a:\n" + "".join(" " * i + "- \n" for i in range(1, 2000)) + "---\n"}).encode(),
    json.dumps({"content": f"---\n{BILLION_LAUGHS}---\n"}).encode(),
])
def test_validate_yaml_answers_deep_or_exploding_input_with_a_400(hub, body):
    answer = httpx.post(f"{hub.endpoint}/api/validate-yaml", content=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 400


def test_revoking_a_token_on_the_command_line_ends_its_hub_and_xet_cas_access(hub):
    token = hub.token("rita-hostile")
    repo_id = new_repo(hub, token, "rita-hostile")
    cas_url, cas = cas_token(hub, token, repo_id)
    chunk = os.urandom(3000)
    upload_xorb(cas_url, cas, [chunk])
    assert dedupe_status(cas_url, cas, chunk) == 200

    revoke = subprocess.run([sys.executable, "-m", "hubtools.cli", "hub", "token", "--revoke", "--root", str(hub.root)],
                            input=token + "\n", capture_output=True, text=True, timeout=120)
    assert revoke.returncode == 0 and token not in revoke.stdout + revoke.stderr, revoke.stderr
    assert httpx.get(f"{hub.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert dedupe_status(cas_url, cas, chunk) == 401  # the CAS token was issued an hour's life; it dies now
    refused = httpx.post(f"{cas_url}/v1/xorbs/default/{'0' * 64}", content=b"x", headers={"Authorization": f"Bearer {cas}"})
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]

    again = subprocess.run([sys.executable, "-m", "hubtools.cli", "hub", "token", "--revoke", "--root", str(hub.root)],
                           input=token + "\n", capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "nothing revoked" in again.stderr



# ---------------------------------------------------------------------- 6. typed bodies, file/folder conflicts


def commit_lines(hub, token: str, repo_id: str, *lines: dict) -> httpx.Response:
    return httpx.post(f"{hub.endpoint}/api/models/{repo_id}/commit/main", content="\n".join(json.dumps(x) for x in lines),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})


def test_malformed_commit_fields_are_400s_naming_the_line_and_field(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    assert commit_text_file(hub, victim, repo_id, "x.txt").status_code == 200
    header = {"key": "header", "value": {"summary": "typed"}}
    cases = {
        "summary": [{"key": "header", "value": {"summary": 5}}],
        "srcRevision": [header, {"key": "copyFile", "value": {"srcPath": "x.txt", "path": "y.txt", "srcRevision": 5}}],
        "path": [header, {"key": "deletedFile", "value": {"path": ["x.txt"]}}],
        "size": [header, {"key": "lfsFile", "value": {"path": "q.bin", "algo": "sha256", "oid": "a" * 64, "size": "big"}}],
    }
    for field, lines in cases.items():
        answer = commit_lines(hub, victim, repo_id, *lines)
        assert answer.status_code == 400 and f"field '{field}'" in answer.json()["error"], (field, answer.text)


def test_a_commit_cannot_make_a_path_both_a_file_and_a_folder(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    header = {"key": "header", "value": {"summary": "conflict"}}
    both = commit_lines(hub, victim, repo_id, header, *({"key": "file", "value": {"path": p, "content": "aGk=", "encoding": "base64"}} for p in ("a", "a/b")))
    assert both.status_code == 409 and "both a file and the folder" in both.json()["error"]
    assert commit_text_file(hub, victim, repo_id, "x").status_code == 200
    assert commit_text_file(hub, victim, repo_id, "x/y").status_code == 409  # against the existing tree
    assert commit_text_file(hub, victim, repo_id, "d/e").status_code == 200
    assert commit_text_file(hub, victim, repo_id, "d").status_code == 409
    assert sorted(hub.stock_api(victim).list_repo_files(repo_id)) == [".gitattributes", "d/e", "x"]


def test_settings_create_and_discussion_booleans_must_be_booleans(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    auth = {"Authorization": f"Bearer {victim}"}
    settings = httpx.put(f"{hub.endpoint}/api/models/{repo_id}/settings", json={"private": "yes"}, headers=auth)
    assert settings.status_code == 400 and "field 'private'" in settings.json()["error"]
    created = httpx.post(f"{hub.endpoint}/api/repos/create", json={"name": "typed-no", "private": "no"}, headers=auth)
    assert created.status_code == 400 and "field 'private'" in created.json()["error"]  # "no" once made it private
    opened = httpx.post(f"{hub.endpoint}/api/models/{repo_id}/discussions", json={"title": "Typed", "pullRequest": "no"}, headers=auth)
    assert opened.status_code == 400 and "field 'pullRequest'" in opened.json()["error"]
    assert hub.stock_api(victim).model_info(repo_id).private is False


def test_a_branch_starting_point_must_be_a_revision_string(hub, victim):
    repo_id = new_repo(hub, victim, "vera-hostile")
    answer = httpx.post(f"{hub.endpoint}/api/models/{repo_id}/branch/typed", json={"startingPoint": 123},
                        headers={"Authorization": f"Bearer {victim}"})
    assert answer.status_code == 400 and "field 'startingPoint'" in answer.json()["error"]


# ---------------------------------------------------------------------- 9. lookups by key


def median_seconds(client: httpx.Client, method: str, url: str, **kwargs) -> float:
    times = []
    for _ in range(15):
        started = time.perf_counter()
        client.request(method, url, **kwargs).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_resolve_and_paths_info_cost_the_same_on_a_20000_file_repo(hub, victim):
    small, large = new_repo(hub, victim, "vera-hostile"), new_repo(hub, victim, "vera-hostile")
    store = HubStore(hub.root)
    blob = store.put_bytes(b"x")
    for repo_id, count in ((small, 10), (large, 20_000)):
        files = [dataclasses.replace(blob, path=f"shard-{i // 1000:02d}/file-{i:05d}.txt") for i in range(count)]
        store.apply_commit(store.get_repo("model", *repo_id.split("/")), "main", files, "vera-hostile", f"{count} files", "")
    with httpx.Client() as client:
        costs = {}
        for repo_id in (small, large, small, large):  # interleaved, so a load spike hits both
            head = median_seconds(client, "HEAD", f"{hub.endpoint}/{repo_id}/resolve/main/shard-00/file-00005.txt")
            info = median_seconds(client, "POST", f"{hub.endpoint}/api/models/{repo_id}/paths-info/main",
                                  data={"paths": ["shard-00/file-00005.txt", "shard-00"]})
            costs[repo_id] = min(costs.get(repo_id, (9e9, 9e9)), (head, info))
    # Reading the whole file list made the large repo's HEAD 20-30x slower; a key lookup costs about the same.
    # Generous for a machine at load 20: 4x.
    assert costs[large][0] < 4 * costs[small][0] + 0.01, costs
    assert costs[large][1] < 4 * costs[small][1] + 0.05, costs
