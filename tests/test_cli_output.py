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


def test_format_json_is_one_document_on_stdout(hub, tmp_path_factory) -> None:
    """evaluate, publish (plan + commit URLs) and verify with --format json: stdout parses as one JSON document."""
    import json

    from publishing_support import copy_of_trained_run

    run = copy_of_trained_run(tmp_path_factory, "json")
    token = hub.token("jsonwriter", ["jsonorg"])
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUBTOOLS_")} | {"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token}
    cwd = run.root.parent

    evaluated = hubtools("evaluate", "--run", str(run.root), "--out", str(cwd / "report-json"), "--format", "json", env=env, cwd=cwd)
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["report_dir"] == str(cwd / "report-json") and 0 <= report["report"]["accuracy"] <= 1

    published = hubtools("publish", "--repo", "jsonorg/model", "--run", str(run.root), "--no-space", "--render-card", "--format", "json",
                         env=env, cwd=cwd)
    assert published.returncode == 0, published.stderr
    document = json.loads(published.stdout)
    (plan,) = document["plan"]
    assert plan["repo_id"] == "jsonorg/model" and any(change["path"] == "README.md" for change in plan["changes"])
    (commit,) = document["commits"]
    assert commit["url"] == f"{hub.endpoint}/jsonorg/model" and len(commit["commit_id"]) == 40
    assert document["verify"]["label_mismatches"] == 0 and all(check["ok"] for check in document["verify"]["metrics"])

    verified = hubtools("verify", "--repo", "jsonorg/model", "--run", str(run.root), "--sample", "5", "--format", "json", env=env, cwd=cwd)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["rows"] == 5
