"""`hubtools verify`: the published model, downloaded with pipeline(), agrees with the run and its card."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hubtools.rundir import RunDir
from hubtools.verify import VerifyError, verify_repo
from publishing_support import copy_of_trained_run, publish_run

ORG = "verifytest"


@pytest.fixture(scope="module")
def published(hub, tmp_path_factory) -> tuple[RunDir, str]:
    token = hub.token("victor", [ORG])
    run = copy_of_trained_run(tmp_path_factory, "verify")
    publish_run(run, f"{ORG}/tiny", token, space_repo_id=None)
    return run, token


def test_verify_recomputes_the_cards_metrics_from_the_downloaded_model(hub, published) -> None:
    run, token = published
    report = verify_repo(f"{ORG}/tiny", run, endpoint=hub.endpoint, token=token)

    test_metrics = {key: value for key, value in run.read_json(run.metrics)["test"].items() if isinstance(value, float)}
    assert report.label_mismatches == 0 and report.max_score_difference <= 1e-5
    assert {check.name for check in report.metrics} >= {"accuracy", "f1_macro"}
    for check in report.metrics:
        assert check.ok and check.recomputed == pytest.approx(test_metrics[check.name], abs=1e-6)


def test_verify_catches_a_card_whose_numbers_are_not_the_models(hub, published, tmp_path: Path) -> None:
    run, token = published
    api = hub.api(token)
    _, front_matter, body = Path(api.hf_hub_download(f"{ORG}/tiny", "README.md")).read_text(encoding="utf-8").split("---", 2)
    metadata = yaml.safe_load(front_matter)
    for result in metadata["model-index"][0]["results"]:
        for metric in result["metrics"]:
            if result["dataset"]["split"] == "test" and metric["type"] == "accuracy":
                metric["value"] -= 0.01
    tampered = tmp_path / "README.md"
    tampered.write_text("---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---" + body, encoding="utf-8")
    api.create_branch(f"{ORG}/tiny", branch="tampered")
    api.upload_file(path_or_fileobj=str(tampered), path_in_repo="README.md", repo_id=f"{ORG}/tiny", revision="tampered")

    with pytest.raises(VerifyError, match=r"README.md says accuracy=.* but the run's metrics.json says .* re-render the card"):
        verify_repo(f"{ORG}/tiny", run, endpoint=hub.endpoint, token=token, revision="tampered")


def test_verify_cli_on_a_sample(hub, published) -> None:
    run, token = published
    done = subprocess.run(
        [sys.executable, "-m", "hubtools.cli", "verify", "--repo", f"{ORG}/tiny", "--run", str(run.root), "--sample", "5"],
        env={**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token}, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "5 test rows through pipeline(): predictions match the run" in done.stdout
    assert "card metrics NOT checked: 5 random rows are not the rows the card was scored on" in done.stdout
    assert "card metrics match" not in done.stdout
    assert token not in done.stdout + done.stderr


def test_publish_and_verify_a_binary_task_whose_positive_label_sorts_first(hub, tmp_path_factory) -> None:
    """labels hateful/neutral with `positive_label: hateful`: the card's binary F1 is hateful's; verify must score
    the same class (it used the second label, neutral, and failed after publish had committed everything)."""
    from hubtools.evaluation import evaluate_run
    from trained_run import POSITIVE_FIRST, binary_trained_run

    source = binary_trained_run(tmp_path_factory)
    run = RunDir(tmp_path_factory.mktemp("binary") / "run")
    import shutil

    shutil.copytree(source.root, run.root)
    evaluate_run(run.root)
    per_class = run.read_json(run.report / "metrics.json")["per_class"]
    assert sorted(per_class) == [POSITIVE_FIRST, "neutral"]
    assert round(per_class[POSITIVE_FIRST]["f1"], 4) != round(per_class["neutral"]["f1"], 4), "the two classes' F1 must differ"

    token = hub.token("victor", [ORG])
    result = publish_run(run, f"{ORG}/binary", token, space_repo_id=None, verify=True)

    checks = {check.name: check for check in result.verification.metrics}
    assert checks["f1"].ok and checks["f1"].recomputed == pytest.approx(per_class[POSITIVE_FIRST]["f1"], abs=1e-6)
    again = verify_repo(f"{ORG}/binary", run, endpoint=hub.endpoint, token=token)
    assert all(check.ok for check in again.metrics) and "f1" in {check.name for check in again.metrics}


def test_a_verify_failure_after_publish_says_what_is_committed_and_does_not_blame_a_right_card(hub, tmp_path_factory) -> None:
    """The card matches the run's metrics.json, but the test split was changed after training: re-rendering the card
    cannot fix that, so the message must not say so, and it must say that publish already committed."""
    import pandas as pd

    run = copy_of_trained_run(tmp_path_factory, "verify-changed-split")
    test = pd.read_parquet(run.split("test"))
    labels = sorted(test["label"].unique())
    test["label"] = [labels[(labels.index(label) + 1) % len(labels)] for label in test["label"]]
    test.to_parquet(run.split("test"), index=False)

    with pytest.raises(VerifyError) as raised:
        publish_run(run, f"{ORG}/changed-split", hub.token("victor", [ORG]), space_repo_id=None, verify=True)
    message = str(raised.value)
    assert "as the run's metrics.json does" in message and "re-render" not in message
    assert f"publish had already committed: {hub.endpoint}/{ORG}/changed-split at " in message
    assert "\n" not in message


def other_run(tmp_path_factory, name: str, change_model) -> RunDir:
    """A copy of the published run whose model was changed after publishing: the run someone passes by mistake."""
    from transformers import AutoModelForSequenceClassification

    run = copy_of_trained_run(tmp_path_factory, name)
    model = AutoModelForSequenceClassification.from_pretrained(run.model)
    change_model(model)
    model.save_pretrained(run.model)
    return run


def test_verify_against_another_run_names_that_run_and_agrees_with_its_own_numbers(hub, published, tmp_path_factory) -> None:
    import torch
    from transformers import pipeline

    _, token = published

    def favour_the_last_label(model) -> None:
        with torch.no_grad():
            model.classifier.bias[-1] += 1.5

    other = other_run(tmp_path_factory, "verify-other-run", favour_the_last_label)
    texts = pd.read_parquet(other.split("test"))["text"].tolist()
    published_model = hub.api(token).snapshot_download(f"{ORG}/tiny")
    scores = [
        [{row["label"]: row["score"] for row in output} for output in pipeline("text-classification", model=str(folder))(texts, top_k=None, truncation=True, max_length=32)]
        for folder in (published_model, other.model)
    ]
    differing = sum(max(a, key=a.get) != max(b, key=b.get) for a, b in zip(*scores))
    largest = max(abs(a[label] - b[label]) for a, b in zip(*scores) for label in a)
    assert 0 < differing < len(texts)

    with pytest.raises(VerifyError) as error:
        verify_repo(f"{ORG}/tiny", other, endpoint=hub.endpoint, token=token)
    message = str(error.value)
    assert f"compared with {other.model} on {len(texts)} rows of {other.split('test')}" in message
    assert f"pipeline() predicts a different label on {differing} of them and scores differ by up to {largest:.2e}" in message
    assert f"if {other.root} is the run published to {ORG}/tiny, re-publish it; otherwise pass --run with the run that was" in message


def test_verify_against_a_run_of_other_labels_says_it_is_not_the_published_run(hub, published, tmp_path_factory) -> None:
    _, token = published

    def rename_labels(model) -> None:
        model.config.id2label = {index: f"class_{index}" for index in model.config.id2label}
        model.config.label2id = {name: index for index, name in model.config.id2label.items()}

    other = other_run(tmp_path_factory, "verify-other-labels", rename_labels)
    with pytest.raises(VerifyError, match=rf"{ORG}/tiny: its model's labels \(Argumentative, .*\) are not those of {other.model} "
                       rf"\(class_0, .*\): {other.root} is not the run published there; pass --run with the run that was"):
        verify_repo(f"{ORG}/tiny", other, endpoint=hub.endpoint, token=token)


def test_verify_cli_requires_the_run_it_compares_with(hub, published) -> None:
    _, token = published
    done = subprocess.run(
        [sys.executable, "-m", "hubtools.cli", "verify", "--repo", f"{ORG}/tiny"],
        env={**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token}, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 2 and "Missing option '--run'" in done.stderr
