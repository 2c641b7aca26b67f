"""Golden test: the model card of a committed fixture run directory (no training) is exactly tests/golden/README.md.

The fixture (tests/fixtures/run-minimal/) holds what `hubtools card` reads: metrics.json, log_history.json,
checkpoint_selection.json, config.yaml, dataset_stats.json, environment.json, tiny Parquet splits, the model's
config.json (no weights) and report/. After an intended change to the card, regenerate and review the diff:

    HUBTOOLS_UPDATE_GOLDEN=1 python -m pytest tests/test_card_golden.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hubtools.cards import write_model_card

FIXTURE = Path(__file__).parent / "fixtures" / "run-minimal"
GOLDEN = Path(__file__).parent / "golden" / "README.md"


@pytest.fixture()
def fixture_run(tmp_path: Path) -> Path:
    run = tmp_path / "run-minimal"
    shutil.copytree(FIXTURE, run)
    return run


def test_model_card_matches_the_golden_file(fixture_run: Path, tmp_path: Path) -> None:
    readme = write_model_card(
        fixture_run, tmp_path / "card", model_repo_id="acme/minilm-comments", dataset_repo_id=None,
        space_repo_id="acme/minilm-comments-demo", endpoint="http://127.0.0.1:9",
    )
    rendered = readme.read_text(encoding="utf-8")
    if os.environ.get("HUBTOOLS_UPDATE_GOLDEN"):
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert rendered == GOLDEN.read_text(encoding="utf-8"), "card changed: review, then regenerate with HUBTOOLS_UPDATE_GOLDEN=1"


def test_a_name_missing_from_the_context_fails_the_render(fixture_run: Path, tmp_path: Path, monkeypatch) -> None:
    import hubtools.cards as cards

    template = tmp_path / "templates"
    shutil.copytree(cards.cards_dir(), template)
    (template / "model_card.md.j2").write_text("---\n{{ card_data }}\n---\n{{ no_such_variable }}\n", encoding="utf-8")
    monkeypatch.setattr(cards, "cards_dir", lambda: template)
    with pytest.raises(cards.CardError, match="no_such_variable"):
        write_model_card(fixture_run, tmp_path / "card")


def test_a_subsampled_evaluation_is_stated(fixture_run: Path, tmp_path: Path) -> None:
    import json

    report_file = fixture_run / "report" / "metrics.json"
    report = json.loads(report_file.read_text())
    report["rows"] = 15  # as `hubtools evaluate` with a sample of the test split would write it
    report_file.write_text(json.dumps(report))
    text = write_model_card(fixture_run, tmp_path / "card").read_text(encoding="utf-8")
    assert "**Evaluation was subsampled:** 15 of the 21 test rows were scored" in text
    assert "On the test split (a sample of 15 of its 21 texts)" in text


def test_binary_scores_name_the_positive_class(fixture_run: Path, tmp_path: Path) -> None:
    import json

    from huggingface_hub import ModelCard

    metrics_file, report_file = fixture_run / "metrics.json", fixture_run / "report" / "metrics.json"
    metrics, report = json.loads(metrics_file.read_text()), json.loads(report_file.read_text())
    metrics["test"] |= {"f1": 0.61234, "precision": 0.5, "recall": 0.75}  # as a binary run's metrics.json holds them
    metrics["test"]["intervals"]["f1"] = {"low": 0.4, "high": 0.8}
    report["positive_label"] = "Opinion"
    metrics_file.write_text(json.dumps(metrics))
    report_file.write_text(json.dumps(report))
    card = ModelCard.load(write_model_card(fixture_run, tmp_path / "card"))
    assert "| F1 (Opinion) | 0.6123 | 0.4000 – 0.8000 |" in card.text and "positive class **Opinion**" in card.text
    assert "Test F1 (Opinion)" in {result.metric_name for result in card.data.eval_results}
