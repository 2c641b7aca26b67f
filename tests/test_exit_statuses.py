"""README's exit-status table and the CLI agree: every status it names is the one a command of that family exits with
(2, 3, 4 and 7 run as commands; 5 and 6 through the error table; 130 is tests/test_cli_errors.py's Ctrl+C test)."""

from __future__ import annotations

import errno
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hubtools.cli import errors as cli_errors
from hubtools.cli.errors import explain
from hubtools.ports import free_port
from hubtools.verify import VerifyError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_statuses() -> dict[int, str]:
    """{status: its family's words} from README's "Errors are one line ..." paragraph."""
    paragraph = next(block for block in README.read_text(encoding="utf-8").split("\n\n") if block.startswith("Errors are one line"))
    flat = " ".join(paragraph.split())
    return {int(status): words for status, words in re.findall(r"(?:status by family: |, |\), )(\d+) ([a-zC`][^,(]*)", flat)}


def hubtools(*args: str, cwd: Path, stdin: str = "", endpoint: str | None = None) -> subprocess.CompletedProcess:
    import os

    env = {key: value for key, value in os.environ.items() if key not in ("HUBTOOLS_DEBUG", "HF_TOKEN")}
    return subprocess.run([sys.executable, "-m", "hubtools.cli", *args], env=env | ({"HF_ENDPOINT": endpoint} if endpoint else {}),
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=240)


def test_readme_names_every_status_the_cli_uses() -> None:
    statuses = readme_statuses()
    assert statuses == {
        2: "input to fix ", 3: "the Hub refused ", 4: "the Hub unreachable or failing ", 5: "this machine ",
        6: "a card's claim did not reproduce or the audit found a problem", 7: "the repo lacks what `reproduce` needs",
        8: "`audit` could check none of the card's claims ", 130: "Ctrl+C; `hubtools --debug ...` ",
    }
    constants = {value for name, value in vars(cli_errors).items() if name.startswith("EXIT_") and name != "EXIT_BUG"}
    assert constants == set(statuses)


def test_an_unknown_token_to_revoke_is_input_to_fix_exit_2(tmp_path: Path) -> None:
    result = hubtools("hub", "token", "--revoke", "--root", str(tmp_path / "hub"), cwd=tmp_path, stdin="hf_not_a_token_here\n")
    assert result.returncode == 2, result.stderr
    assert "is not a token of the Hub in" in result.stderr and "hf_not_a_token_here" not in result.stderr


def local_run(tmp_path: Path) -> Path:
    """What verify checks locally before it talks to the Hub: a model folder, metrics and a test split."""
    import pandas as pd

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}", encoding="utf-8")
    (run / "metrics.json").write_text('{"test": {}}', encoding="utf-8")
    (run / "data").mkdir()
    pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]}).to_parquet(run / "data" / "test.parquet")
    return run


def test_a_rejected_token_is_the_hub_refusing_exit_3(hub, tmp_path: Path) -> None:
    result = hubtools("verify", "--repo", "acme/none", "--run", str(local_run(tmp_path)), "--endpoint", hub.endpoint, "--token", "hf_rejected", cwd=tmp_path)
    assert result.returncode == 3, result.stderr


def test_an_unreachable_hub_is_exit_4(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = hubtools("verify", "--repo", "acme/none", "--run", str(local_run(tmp_path)), "--endpoint", endpoint, cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert f"cannot reach the Hub at {endpoint}" in result.stderr


def test_a_repo_without_what_reproduce_needs_is_exit_7(hub, tmp_path: Path) -> None:
    token = hub.token("owner", ["acme"])
    hub.api(token).create_repo("acme/bare-model")
    result = hubtools("reproduce", "acme/bare-model", "--evaluate-only", "--out", str(tmp_path / "out"), "--endpoint", hub.endpoint,
                      "--token", token, cwd=tmp_path)
    assert result.returncode == 7, result.stdout + result.stderr


@pytest.mark.parametrize(("error", "status"), [
    (OSError(errno.ENOSPC, "No space left on device"), 5),
    (VerifyError("acme/model: pipeline() predictions differ from runs/x/model on 3 of 10 rows; re-publish the run"), 6),
])
def test_this_machine_is_5_and_a_published_claim_that_does_not_hold_is_6(error: BaseException, status: int) -> None:
    assert explain(error).exit_code == status
