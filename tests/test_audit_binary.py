"""`hubtools audit` of binary models: precision, recall and F1 are about the positive class the repo names
(the published config's `data.positive_label`, or the metric's name "F1 (neutral)"), whether it sorts first or last."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hub_support import ORG, unique
from publishing_support import publish_run
from trained_run import POSITIVE_FIRST, binary_trained_run

from hubtools.evaluation.write import load_report
from hubtools.rundir import RunDir


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory) -> RunDir:
    """The session's binary run (positive class `hateful`, label 0), evaluated, in a folder of this module's."""
    from hubtools.evaluation import evaluate_run

    target = tmp_path_factory.mktemp("binary-audit") / "run"
    # a copy: the shared run stays as trained (other modules evaluate their own copies of it)
    shutil.copytree(binary_trained_run(tmp_path_factory).root, target, ignore=shutil.ignore_patterns("card", "report"))
    evaluate_run(target)
    return RunDir(target)


@pytest.fixture(scope="module")
def published(hub, binary_run) -> tuple[str, str]:
    """(model repo, dataset repo) published by hubtools, with `data.positive_label: hateful` in training_config.yaml."""
    repo_id = unique("binary")
    publish_run(binary_run, repo_id, hub.token("alice", [ORG]), dataset_repo_id=repo_id + "-data")
    return repo_id, repo_id + "-data"


def test_positive_label_that_sorts_first_from_the_published_config(hub, binary_run, published, tmp_path: Path) -> None:
    from hubtools.audit import AuditOptions, audit_repo

    repo_id, _ = published
    per_class = load_report(binary_run.root)["per_class"]
    assert per_class[POSITIVE_FIRST]["f1"] != pytest.approx(per_class["neutral"]["f1"], abs=0.05)  # the two classes' F1 tell them apart
    audit = audit_repo(AuditOptions(repo_id, tmp_path))
    f1 = next(check for check in audit.checks if check.claim.metric == "f1")
    assert f1.value == pytest.approx(per_class[POSITIVE_FIRST]["f1"], abs=1e-4)
    assert audit.verdict == "no problems" and audit.flagged == [], audit.summary()


def test_positive_label_that_sorts_last_from_the_metric_name(hub, binary_run, published, tmp_path: Path) -> None:
    """A hand-written card on the same weights that reports F1 of `neutral` (label 1) by name only."""
    from hubtools.audit import AuditOptions, audit_repo

    _, dataset_id = published
    test = json.loads(binary_run.metrics.read_text())["test"]
    neutral = load_report(binary_run.root)["per_class"]["neutral"]
    owner = hub.token("erin", ["binaries"])
    api = hub.api(owner)
    repo_id = "binaries/neutral-detector"
    api.create_repo(repo_id)
    folder = tmp_path / "upload"
    shutil.copytree(binary_run.model, folder)
    (folder / "README.md").write_text(f"""---
license: mit
model-index:
- name: neutral-detector
  results:
  - task:
      type: text-classification
    dataset:
      name: comments
      type: {dataset_id}
      split: test
    metrics:
    - type: accuracy
      value: {test['accuracy']:.4f}
    - type: f1
      name: F1 (neutral)
      value: {neutral['f1']:.4f}
    - type: precision
      name: Precision (neutral)
      value: {neutral['precision']:.4f}
---
# neutral-detector
""")
    api.upload_folder(folder_path=str(folder), repo_id=repo_id)
    audit = audit_repo(AuditOptions(repo_id, tmp_path / "audit"))
    assert [(check.claim.metric, check.status) for check in audit.checks] == [
        ("accuracy", "reproduced"), ("f1", "reproduced"), ("precision", "reproduced"),
    ], audit.summary()
    assert audit.checks[1].value == pytest.approx(neutral["f1"], abs=1e-4)
    assert audit.verdict == "no problems"
