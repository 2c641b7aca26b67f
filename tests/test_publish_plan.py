"""Publish planning without a Hub: repo ids, what goes in the model repo, the secret scan."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hubtools.errors import HubtoolsError
from hubtools.publish.manifest import MANIFEST_FILE, NO_MANIFEST, PreviousPublish, manifest_bytes, parse_manifest, write_manifest
from hubtools.publish import XET_UPLOAD_STREAMS_ENV, xet_upload_streams
from hubtools.publish.checks import check_repo_id
from hubtools.publish.plan import diff_tree
from hubtools.publish.scan import scan_and_hash
from hubtools.publish.trees import model_tree
from hubtools.rundir import RunDir


@pytest.mark.parametrize(
    ("repo_id", "message"),
    [
        ("no-namespace", "expected ORG/NAME"),
        ("a/b/c", "expected ORG/NAME"),
        ("org/bad name!", "invalid repo id"),
        ("datasets/org/name", "names a dataset repo"),
    ],
)
def test_bad_repo_ids_are_refused_with_one_line(repo_id: str, message: str) -> None:
    with pytest.raises(HubtoolsError, match=message) as raised:
        check_repo_id(repo_id, "--repo", "model")
    assert "\n" not in str(raised.value)


def _write(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_model_tree_keeps_weights_card_config_logs_and_nothing_else(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "pytorch_model.bin", "training_args.bin", "optimizer.pt", "README.md"):
        _write(run.model / name)
    _write(run.card / "README.md")
    _write(run.card / "confusion_matrix.png")
    _write(run.card / ".eval_results" / "test.yaml")
    _write(run.card / "training_config.yaml")
    _write(run.config)
    _write(run.tensorboard / "events.out.tfevents.1")
    _write(run.checkpoints / "checkpoint-10" / "optimizer.pt")
    _write(run.root / ".cache" / "x")

    assert sorted(model_tree(run)) == [
        ".eval_results/test.yaml", "README.md", "config.json", "confusion_matrix.png", "model.safetensors",
        "runs/events.out.tfevents.1", "tokenizer.json", "tokenizer_config.json", "training_config.yaml", "vocab.txt",
    ]
    assert model_tree(run)["README.md"] == run.card / "README.md"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (".env", b"A=1"),
        ("notes.md", b"token: hf_" + b"a1B2" * 9),
        ("config.yaml", b"-----BEGIN OPENSSH PRIVATE KEY-----"),
        ("log.txt", b"used the-secret-in-use-42 to log in"),
    ],
)
def test_secret_scan_refuses_files_that_look_like_credentials(tmp_path: Path, name: str, content: bytes) -> None:
    files = {name: _write(tmp_path / name, content), "ok.txt": _write(tmp_path / "ok.txt", b"hf_short")}
    with pytest.raises(HubtoolsError, match=r"secret|token or private key") as raised:
        scan_and_hash(files, token="the-secret-in-use-42")
    assert str(tmp_path / name) in str(raised.value)
    assert "the-secret-in-use-42" not in str(raised.value)


def test_secret_scan_finds_a_token_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hubtools.publish.scan.SCAN_CHUNK", 16)
    blob = _write(tmp_path / "weights.bin", b"\x00" * 10 + b"hf_" + b"Z" * 40 + b"\x00" * 10)
    with pytest.raises(HubtoolsError):
        scan_and_hash({"weights.bin": blob}, token=None)
    scan_and_hash({"clean.bin": _write(tmp_path / "clean.bin", b"\x00" * 100)}, token=None)


def test_a_benchmark_declaration_on_the_hub_is_never_deleted(tmp_path: Path) -> None:
    """Publishing a run's splits into a dataset repo that declares itself a benchmark keeps its eval.yaml, even as a mirror."""
    from huggingface_hub.hf_api import RepoSibling

    local = tmp_path / "README.md"
    local.write_text("card\n", encoding="utf-8")
    files = {"README.md": local}
    remote = [RepoSibling(rfilename=name, size=10) for name in ("README.md", "eval.yaml", ".gitattributes", "old.parquet")]
    published_before = PreviousPublish(frozenset({"README.md", "old.parquet", "eval.yaml"}))
    for mirror in (False, True):
        changes = diff_tree(files, scan_and_hash(files, token=None), remote, published_before, mirror=mirror)
        assert {change.path: change.status for change in changes} == {"README.md": "changed", "old.parquet": "deleted"}


def test_only_files_the_previous_manifest_names_are_deleted(tmp_path: Path) -> None:
    from huggingface_hub.hf_api import RepoSibling

    files = {"README.md": _write(tmp_path / "README.md", b"card\n")}
    remote = [RepoSibling(rfilename=name, size=10) for name in ("README.md", "old.parquet", "notes/bob.txt")]
    digests = scan_and_hash(files, token=None)

    def statuses(previous: PreviousPublish, mirror: bool = False) -> dict[str, tuple[str, str | None]]:
        return {change.path: (change.status, change.why_kept) for change in diff_tree(files, digests, remote, previous, mirror=mirror)}

    ours = PreviousPublish(frozenset({"README.md", "old.parquet"}))
    assert statuses(ours) == {"README.md": ("changed", None), "old.parquet": ("deleted", None), "notes/bob.txt": ("kept", "added by another commit")}
    assert statuses(ours, mirror=True)["notes/bob.txt"] == ("deleted", None)
    no_manifest = statuses(PreviousPublish(None))
    assert no_manifest["old.parquet"] == no_manifest["notes/bob.txt"] == ("kept", NO_MANIFEST)
    assert NO_MANIFEST == "no hubtools_published.json in the repo, so no proof that hubtools published it (--mirror deletes it)"


@pytest.mark.parametrize("content", [b"not json", b'{"paths": "README.md"}', b'{"paths": [1]}', b"\xff\xfe", b"[]"])
def test_a_manifest_someone_broke_deletes_nothing(content: bytes) -> None:
    previous = parse_manifest(content, "hubtools_published.json at 0123456789ab")
    assert previous.paths is None
    assert previous.why_kept("old.parquet").startswith("hubtools_published.json at 0123456789ab does not ")


def test_the_manifest_lists_the_tree_and_itself_in_a_stable_order(tmp_path: Path) -> None:
    tree = {"b.txt": _write(tmp_path / "b.txt"), "a/c.txt": _write(tmp_path / "a" / "c.txt")}
    with_manifest = write_manifest(tree, tmp_path / "manifest")
    assert sorted(with_manifest) == ["a/c.txt", "b.txt", MANIFEST_FILE]
    assert json.loads(with_manifest[MANIFEST_FILE].read_bytes())["paths"] == ["a/c.txt", "b.txt", MANIFEST_FILE]
    assert manifest_bytes(["b.txt", "a/c.txt"]) == with_manifest[MANIFEST_FILE].read_bytes()


def test_xet_upload_streams_default_to_two_and_an_explicit_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """hf_xet's own limit (64 xorbs of up to 64 MB in flight) held ~0.7-1 GB while publishing 1.4 GB (benchmarks/publish_large.py)."""
    monkeypatch.delenv(XET_UPLOAD_STREAMS_ENV, raising=False)
    with xet_upload_streams(None) as streams:
        assert streams == 2 and os.environ[XET_UPLOAD_STREAMS_ENV] == "2"
    assert XET_UPLOAD_STREAMS_ENV not in os.environ  # nothing left set for the rest of the process (issue 29)
    monkeypatch.setenv(XET_UPLOAD_STREAMS_ENV, "8")
    with xet_upload_streams(None) as streams:
        assert streams == 8  # the user's setting
    with xet_upload_streams(3) as streams:
        assert streams == 3 and os.environ[XET_UPLOAD_STREAMS_ENV] == "3"  # --upload-streams
    assert os.environ[XET_UPLOAD_STREAMS_ENV] == "8"  # the user's setting again


@pytest.mark.parametrize(("streams", "variable", "message"), [
    (0, None, "--upload-streams 0: at least 1 upload stream is needed (hubtools' default is 2)"),
    (None, "many", "HF_XET_CLIENT_AC_MAX_UPLOAD_CONCURRENCY='many': not a number of upload streams; set it to 1 or more, or unset it"),
])  # fmt: skip
def test_impossible_upload_streams_are_one_line_errors(monkeypatch: pytest.MonkeyPatch, streams: int | None, variable: str | None, message: str) -> None:
    if variable is None:
        monkeypatch.delenv(XET_UPLOAD_STREAMS_ENV, raising=False)
    else:
        monkeypatch.setenv(XET_UPLOAD_STREAMS_ENV, variable)
    with pytest.raises(HubtoolsError) as raised:
        with xet_upload_streams(streams):
            pass
    assert str(raised.value) == message
