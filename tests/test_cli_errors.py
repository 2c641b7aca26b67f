"""The CLI's error table, row by row, as a user meets it: a real `hubtools` process, one line on stderr.

Each row asserts: the exit status, one line on stderr that names the next step, no traceback, and
nothing left behind (no run directory, no temporary publish folder).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import requests
from huggingface_hub.errors import HfHubHTTPError

from hubtools.cli.errors import (
    EXIT_BUG,
    EXIT_HUB_REFUSED,
    EXIT_HUB_UNREACHABLE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_LOCAL_SYSTEM,
    explain,
)
from hubtools.errors import HubRefusedError, HubtoolsError, HubUnreachableError, InputError, InputFileError, one_line
from hubtools.ports import free_port

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "configs" / "quickstart.yaml"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    values = {key: value for key, value in os.environ.items() if key not in ("HUBTOOLS_DEBUG", "HUBTOOLS_VERBOSE", "HF_TOKEN")}
    return values | {"TMPDIR": str(scratch)} | extra


def hubtools(*args: str, env: dict[str, str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubtools.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assert_one_line(result: subprocess.CompletedProcess, status: int, *expected: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == status, result.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def nothing_left_in(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """What publish and verify check locally before they talk to the Hub: a model folder, metrics, a test split."""
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}", encoding="utf-8")
    (run / "model" / "model.safetensors").write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"test": {}}), encoding="utf-8")
    (run / "data").mkdir()
    pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]}).to_parquet(run / "data" / "test.parquet")
    return run


def test_hub_down_publish_retries_then_says_how_to_start_it(tmp_path: Path, run_dir: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = hubtools("publish", "--repo", "acme/model", "--run", str(run_dir), "--endpoint", endpoint, "--token", "hf_unused",
                      env=environment(tmp_path), cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert_one_line(result, EXIT_HUB_UNREACHABLE, f"cannot reach the Hub at {endpoint}", "hubtools hub serve", "HF_ENDPOINT")
    assert elapsed >= 3, "1 s then 2 s of backoff between the three attempts"
    assert nothing_left_in(tmp_path / "tmp")


def test_hub_down_verify_says_the_same(tmp_path: Path, run_dir: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = hubtools("verify", "--repo", "acme/model", "--run", str(run_dir), "--endpoint", endpoint, env=environment(tmp_path), cwd=tmp_path)
    line = assert_one_line(result, EXIT_HUB_UNREACHABLE, f"cannot reach the Hub at {endpoint}", "hubtools hub serve")
    assert "offline" not in line


def test_read_only_token_is_called_read_only(hub, tmp_path: Path, run_dir: Path) -> None:
    token = hub.token("reader", ["acme"], read_only=True)
    result = hubtools("publish", "--repo", "acme/model", "--run", str(run_dir), "--endpoint", hub.endpoint, "--token", token,
                      env=environment(tmp_path), cwd=tmp_path)
    line = assert_one_line(result, EXIT_INPUT, "the token for reader is read-only", "write token")
    assert "member" not in line and token not in result.stdout + result.stderr


def test_rejected_token_is_the_hub_refusing_exit_3(hub, tmp_path: Path, run_dir: Path) -> None:
    result = hubtools("publish", "--repo", "acme/model", "--run", str(run_dir), "--endpoint", hub.endpoint, "--token", "hf_no_such_token",
                      env=environment(tmp_path), cwd=tmp_path)
    assert_one_line(result, EXIT_HUB_REFUSED, f"the token was rejected by {hub.endpoint} (401)", "log in again")
    assert "hf_no_such_token" not in result.stdout + result.stderr


def test_malformed_jsonl_is_one_line_with_the_1_based_line(tmp_path: Path) -> None:
    data = tmp_path / "labelled.jsonl"
    rows = [json.dumps({"text": f"row {number}", "label": "pos"}) for number in range(1, 9)]
    rows[6] = '{"text": "row 7", label: "pos"}'
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = hubtools("evaluate", "--model", "some/model", "--data", str(data), env=environment(tmp_path), cwd=tmp_path)
    assert_one_line(result, EXIT_INPUT, f"{data}: line 7 is not valid JSON", "fix or remove that line")
    assert not (tmp_path / "report").exists()


def test_empty_data_file_is_called_empty(tmp_path: Path) -> None:
    data = tmp_path / "labelled.jsonl"
    data.write_text("", encoding="utf-8")
    result = hubtools("evaluate", "--model", "some/model", "--data", str(data), env=environment(tmp_path), cwd=tmp_path)
    line = assert_one_line(result, EXIT_INPUT, f"{data}: the file is empty")
    assert "could not be read" not in line


def test_wrong_namespace_names_the_membership(hub, tmp_path: Path, run_dir: Path) -> None:
    token = hub.token("writer", ["acme"])
    result = hubtools("publish", "--repo", "elsewhere/model", "--run", str(run_dir), "--endpoint", hub.endpoint, "--token", token,
                      env=environment(tmp_path), cwd=tmp_path)
    assert_one_line(result, EXIT_INPUT, "writer is not a member of elsewhere")
    assert not hub.api(None).repo_exists("elsewhere/model")


def test_bad_yaml_names_the_faulty_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("model: x\ndata:\n  path: a.csv\ntraining:\n  learning_rate: 1e-4\n  - num_train_epochs: 3\n", encoding="utf-8")
    result = hubtools("train", "--config", str(config), "--output-dir", str(tmp_path / "run"), env=environment(tmp_path), cwd=tmp_path)
    assert_one_line(result, EXIT_INPUT, f"{config}: not valid YAML at line 6, column 3", "fix the file")
    assert not (tmp_path / "run").exists()

    debug = hubtools("train", "--config", str(config), env=environment(tmp_path, HUBTOOLS_DEBUG="1"), cwd=tmp_path)
    assert debug.returncode == EXIT_INPUT and "Traceback" in debug.stderr and debug.stderr.rstrip().splitlines()[-1].startswith("Error: ")


def test_bad_model_id_names_the_local_endpoint(hub, tmp_path: Path) -> None:
    result = hubtools("train", "--config", str(QUICKSTART), "--output-dir", str(tmp_path / "run"), "model=nobody/no-such-model",
                      env=environment(tmp_path, HF_ENDPOINT=hub.endpoint), cwd=tmp_path)
    line = assert_one_line(result, EXIT_INPUT, "nobody/no-such-model", f"not found on {hub.endpoint}")
    assert "huggingface.co" not in line
    assert not (tmp_path / "run").exists()


def test_missing_file_and_unknown_key(tmp_path: Path) -> None:
    missing = hubtools("evaluate", "--model", "some/model", "--data", str(tmp_path / "absent.csv"), env=environment(tmp_path), cwd=tmp_path)
    line = assert_one_line(missing, EXIT_INPUT, str(tmp_path / "absent.csv"), "not found", "check the path")
    assert "data.path" not in line  # a training config's key: not what `evaluate --data` was given
    unknown = hubtools("train", "--config", str(QUICKSTART), "--output-dir", str(tmp_path / "run"), "--training.learning_rat", "1e-4",
                       env=environment(tmp_path), cwd=tmp_path)
    assert_one_line(unknown, EXIT_INPUT, "learning_rat")
    assert not (tmp_path / "run").exists()


def test_ctrl_c_is_one_line_and_status_130(tmp_path: Path, run_dir: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers: publish waits on it
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen(
            [sys.executable, "-m", "hubtools.cli", "publish", "--repo", "acme/model", "--run", str(run_dir), "--endpoint", endpoint,
             "--token", "hf_unused"],
            env=environment(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # as from a terminal: SIGINT at its default, also when this suite runs as a background job (which ignores it)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        # The publish has started (inside the CLI's error handling) once its temporary folder exists: signal then, not
        # after a fixed sleep. A generous bound that holds at load 20; the first request then waits for an answer.
        deadline = time.monotonic() + 300
        while not list((tmp_path / "tmp").glob("hubtools-publish-*")):
            assert process.poll() is None and time.monotonic() < deadline, f"publish never started: {process.communicate()[1][-2000:]}"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert_one_line(result, EXIT_INTERRUPTED, "interrupted")
    assert nothing_left_in(tmp_path / "tmp")


@pytest.mark.parametrize(
    ("error", "status", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/data/run/model.safetensors"), EXIT_LOCAL_SYSTEM, "no space left"),
        (PermissionError(errno.EACCES, "Permission denied", "/root/run"), EXIT_LOCAL_SYSTEM, "permission denied (/root/run)"),
        (TimeoutError("timed out"), EXIT_HUB_UNREACHABLE, "did not answer in time"),
    ],
)
def test_local_system_rows(error: BaseException, status: int, expected: str) -> None:
    failure = explain(error)
    assert failure.exit_code == status and expected in failure.message


class RenamedRefusal(HubRefusedError):
    """A family member whose name says nothing: the table must go by type."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("data.csv: row 3: bad"), EXIT_INPUT),
        (InputFileError("run/metrics.json: missing"), EXIT_INPUT),
        (HubtoolsError("anything foreseen"), EXIT_INPUT),
        (RenamedRefusal("the Hub said no"), EXIT_HUB_REFUSED),
        (HubUnreachableError("cannot reach the Hub"), EXIT_HUB_UNREACHABLE),
        (requests.ConnectionError("connection refused"), EXIT_HUB_UNREACHABLE),
        (httpx.ConnectError("connection refused"), EXIT_HUB_UNREACHABLE),
        (type("HubUnreachableError", (Exception,), {})("same name, not ours"), EXIT_BUG),
        (type("HubtoolsError", (Exception,), {})("same name, not ours"), EXIT_BUG),
    ],
)
def test_rows_match_types_not_names(error: BaseException, status: int) -> None:
    assert explain(error).exit_code == status


def test_families_are_their_standard_kinds_too() -> None:
    assert isinstance(InputError("x"), ValueError) and isinstance(InputFileError("x"), FileNotFoundError)
    assert isinstance(HubUnreachableError("x"), ConnectionError)


@pytest.mark.parametrize(("status", "expected"), [(401, "rejected the token"), (409, "conflict"), (413, "too large"), (503, "try again later")])
def test_hub_http_rows(status: int, expected: str) -> None:
    response = httpx.Response(status, request=httpx.Request("POST", "http://127.0.0.1:1/api/models/acme/x/commit/main"),
                              headers={"X-Error-Message": "the server's reason"})
    try:
        raise RuntimeError("while committing") from HfHubHTTPError("failed", response=response, server_message="the server's reason")
    except RuntimeError as wrapped:
        failure = explain(wrapped)
    assert expected in failure.message and "the server's reason" in failure.message and "\n" not in failure.message


def test_long_messages_are_cut_between_words() -> None:
    text = "word " * 100
    cut = one_line(text, limit=42)
    assert cut.endswith(" …") and all(part == "word" for part in cut.removesuffix(" …").split())
