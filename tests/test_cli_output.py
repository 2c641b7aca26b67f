"""What the commands print: quiet stderr by default, library logs with --verbose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

NOISE = ("HTTP Request", "LOAD REPORT", "INFO ")


def hubtools(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubtools.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_quiet_by_default_and_library_logs_with_verbose(seeded_hub, tmp_path: Path) -> None:
    """Loading the base model from the Hub: transformers' load report and httpx's request lines only with --verbose."""
    data = tmp_path / "labelled.csv"
    pd.DataFrame({"text": ["great phone", "awful battery"], "label": ["pos", "neg"]}).to_csv(data, index=False)
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUBTOOLS_")} | {"HF_ENDPOINT": seeded_hub.endpoint}
    args = ("evaluate", "--model", "sentence-transformers/all-MiniLM-L6-v2", "--data", str(data), "--out", str(tmp_path / "report"))

    quiet = hubtools(*args, env=env, cwd=tmp_path)
    assert quiet.returncode == 2 and "no id2label" in quiet.stderr  # the base model has no classifier labels
    assert not any(noise in quiet.stderr for noise in NOISE), quiet.stderr
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == [quiet.stderr.strip()]

    verbose = hubtools("--verbose", *args, env=env, cwd=tmp_path)
    assert "LOAD REPORT" in verbose.stderr and "HTTP Request" in verbose.stderr
