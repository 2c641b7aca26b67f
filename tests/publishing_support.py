"""Helpers shared by the publish, verify and Space tests: a private copy of the session's trained run."""

from __future__ import annotations

import shutil

import pytest

from hubtools.publish import PublishOptions, PublishResult, publish
from hubtools.rundir import RunDir
from trained_run import trained_run


def copy_of_trained_run(tmp_path_factory: pytest.TempPathFactory, name: str) -> RunDir:
    """The shared tiny run (trained once per session), evaluated, copied so a test may change its card."""
    source = trained_run(tmp_path_factory)
    if not source.report.is_dir():
        from hubtools.evaluation import evaluate_run

        evaluate_run(source.root)
    target = tmp_path_factory.mktemp(name) / "run"
    shutil.copytree(source.root, target, ignore=shutil.ignore_patterns("card"))
    return RunDir(target)


def publish_run(run: RunDir, repo_id: str, token: str, lines: list[str] | None = None, **options) -> PublishResult:
    """publish() with the printed lines collected; verify off unless asked (tested on its own)."""
    options.setdefault("verify", False)
    options.setdefault("render_card", not (run.card / "README.md").is_file())
    collected = lines if lines is not None else []
    return publish(PublishOptions(repo_id=repo_id, run_dir=run.root, token=token, **options), echo=collected.append)


def repo_files(api, repo_id: str, repo_type: str = "model", revision: str | None = None) -> dict[str, str]:
    """path -> blob id (sha256 for LFS files) of a repo's files on the Hub now."""
    info = api.repo_info(repo_id, repo_type=repo_type, revision=revision, files_metadata=True)
    return {s.rfilename: (s.lfs.sha256 if s.lfs else s.blob_id) for s in info.siblings}
