"""The model page's inference widget builds repo models in a worker process, never in the Hub: a config bomb or a
file that is not safetensors is refused with one line, and a worker past its memory limit or timeout ends while the
Hub keeps answering."""

from __future__ import annotations

import json
import struct
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from hubtools.hub import issue_token
from hubtools.hub.server import BackgroundHub
from hub_support import ORG, proc_status_kb, write_tiny_bert, writer  # noqa: F401 (fixture)

CARD = b"---\npipeline_tag: text-classification\nwidget:\n- text: hello\n---\n# A model\n"
BOMB_VOCABULARY, BOMB_WIDTH = 250_000, 1024  # 256M parameters: 1 GB of float32 if anything built it
HUB_GROWTH_BOUND_KB = 100 * 1024


def tiny_safetensors() -> bytes:
    """A valid safetensors file of one 2-float tensor (77 bytes)."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 8


def bomb_config() -> bytes:
    """A 1 kB BERT config.json whose embeddings alone would take 1 GB."""
    return json.dumps({"model_type": "bert", "architectures": ["BertForSequenceClassification"],
                       "vocab_size": BOMB_VOCABULARY, "hidden_size": BOMB_WIDTH, "num_hidden_layers": 1,
                       "num_attention_heads": 16, "intermediate_size": BOMB_WIDTH}).encode()


def model_repo(api, files: dict[str, bytes]) -> str:
    repo_id = f"{ORG}/widget-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id)
    api.create_commit(repo_id, [CommitOperationAdd("README.md", CARD)]
                      + [CommitOperationAdd(path, content) for path, content in files.items()], commit_message="model")
    return repo_id


def post_widget(endpoint: str, repo_id: str, text: str = "hello") -> httpx.Response:
    return httpx.post(f"{endpoint}/{repo_id}", data={"text": text}, timeout=300)


def shown_error(page: httpx.Response) -> str:
    """The widget box's one-line error, as the page shows it (HTML-unescaped)."""
    import html

    start = page.text.index('<p class="error">') + len('<p class="error">')
    return html.unescape(page.text[start:page.text.index("</p>", start)])


def child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def test_a_config_bomb_is_refused_by_the_worker_and_the_hub_does_not_grow(hub, writer) -> None:
    repo_id = model_repo(hub.api(writer), {"config.json": bomb_config(), "model.safetensors": tiny_safetensors()})
    pid = hub.server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM: the Hub's peak from now on
    before = proc_status_kb(pid, "VmRSS")
    page = post_widget(hub.endpoint, repo_id)
    peak, after = proc_status_kb(pid, "VmHWM"), proc_status_kb(pid, "VmRSS")
    print(f"Hub RSS: {before / 1024:.0f} MB before the bomb, peak {peak / 1024:.0f} MB, {after / 1024:.0f} MB after")
    assert page.status_code == 422
    error = shown_error(page)
    assert error.startswith(f"{repo_id}: config.json describes a model of ") and "\n" not in error
    assert "does not belong to these weights" in error
    assert peak - before < HUB_GROWTH_BOUND_KB, f"the Hub grew by {(peak - before) // 1024} MB"


def test_a_file_that_is_not_safetensors_is_a_422_naming_it(hub, writer) -> None:
    config = json.dumps({"model_type": "bert", "vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1,
                         "num_attention_heads": 2, "intermediate_size": 8}).encode()
    repo_id = model_repo(hub.api(writer), {"config.json": config, "model.safetensors": b"not a safetensors file" * 5})
    page = post_widget(hub.endpoint, repo_id)
    assert page.status_code == 422
    assert shown_error(page) == f"{repo_id}: model.safetensors is not valid safetensors (declares a " \
        f"{struct.unpack('<Q', b'not a sa')[0]}-byte header in a 110-byte file)"


@contextmanager
def hub_with(root: Path, monkeypatch: pytest.MonkeyPatch, **environment: str) -> Iterator[tuple[BackgroundHub, str]]:
    """Another embedded Hub started with `environment`, and a repo on it holding a tiny BERT classifier."""
    from hubtools.hubclient import hub_api

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    folder = root / "model"
    folder.mkdir()
    write_tiny_bert(folder)
    with BackgroundHub(root / "hub", "127.0.0.1", 0) as server:
        server.start()
        api = hub_api(endpoint=server.endpoint, token=issue_token(server.root, "alice", [ORG]))
        repo_id = f"{ORG}/tiny-{uuid.uuid4().hex[:6]}"
        api.create_repo(repo_id)
        api.upload_folder(repo_id=repo_id, folder_path=folder)
        api.upload_file(path_or_fileobj=CARD, path_in_repo="README.md", repo_id=repo_id)
        yield server, repo_id


def assert_answers_at_once(server: BackgroundHub) -> None:
    started = time.monotonic()
    assert httpx.get(f"{server.endpoint}/api/models", timeout=10).status_code == 200
    assert time.monotonic() - started < 5  # seconds, on a loaded 2-core machine


def test_a_worker_past_its_memory_limit_ends_and_the_hub_answers(tmp_path, monkeypatch) -> None:
    with hub_with(tmp_path, monkeypatch, HUBTOOLS_WIDGET_MEMORY_MB="1") as (server, repo_id):
        page = post_widget(server.endpoint, repo_id)
        assert page.status_code == 422
        error = shown_error(page)  # a MemoryError in Python, or an allocation that fails in native code and kills it
        assert error.startswith(f"{repo_id}: ") and error.endswith("needs more than the widget's 1 MB of memory")
        assert child_pids(server.process.pid) == []  # the worker ended
        assert_answers_at_once(server)


def test_a_worker_past_its_timeout_is_killed_and_the_hub_answers(tmp_path, monkeypatch) -> None:
    with hub_with(tmp_path, monkeypatch, HUBTOOLS_WIDGET_TIMEOUT_S="0.5") as (server, repo_id):
        page = post_widget(server.endpoint, repo_id)
        assert page.status_code == 504
        assert shown_error(page) == "The model did not answer within 0.5 s: try a shorter text"
        assert child_pids(server.process.pid) == []  # killed, not left running
        assert_answers_at_once(server)


def test_the_worker_cache_is_bounded_by_the_weights_bytes_not_a_count(tmp_path) -> None:
    from hubtools.hub.widget_worker import PipelineCache

    folders = []
    for name in "abc":
        folder = tmp_path / name
        folder.mkdir()
        write_tiny_bert(folder)
        folders.append(folder)
    size = (folders[0] / "model.safetensors").stat().st_size
    roomy = PipelineCache(capacity=10 * size, max_weight_bytes=10 * size)
    for name, folder in zip("abc", folders):
        roomy.get(name, f"{ORG}/{name}", folder)
    assert roomy.keys == ["a", "b", "c"]  # three models fit: no count bound
    tight = PipelineCache(capacity=int(2.5 * size), max_weight_bytes=10 * size)
    for name, folder in zip("abca", folders + folders[:1]):
        tight.get(name, f"{ORG}/{name}", folder)
    assert tight.keys == ["c", "a"]  # two fit: c evicted a (least recently used), then a evicted b


def test_labels_too_long_to_answer_are_a_422_not_a_500(hub, writer, tmp_path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    write_tiny_bert(folder)
    config = json.loads((folder / "config.json").read_text())
    names = ["\u00e9" * 100_000 + "neg", "\u00e9" * 100_000 + "pos"]  # config.json 0.8 MB; 1.2 MB JSON-escaped
    config["id2label"], config["label2id"] = dict(enumerate(names)), {name: i for i, name in enumerate(names)}
    (folder / "config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    (folder / "README.md").write_bytes(CARD)
    repo_id = f"{ORG}/long-labels-{uuid.uuid4().hex[:6]}"
    hub.api(writer).create_repo(repo_id)
    hub.api(writer).upload_folder(repo_id=repo_id, folder_path=folder)
    page = post_widget(hub.endpoint, repo_id)
    assert page.status_code == 422
    assert shown_error(page) == f"{repo_id}: the model's label names are too long to show"
