"""`hubtools compare` and the card's "Model selection" section, on copies of the shared tiny run."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from huggingface_hub import ModelCard
from trained_run import trained_run

from hubtools.compare import CompareError, compare_runs, hash_test_split, write_comparison
from hubtools.formatting import format_duration, format_gain, format_size
from hubtools.rundir import RunDir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The trained run and a copy of it without its report (so compare evaluates it first)."""
    run = trained_run(tmp_path_factory)
    root = tmp_path_factory.mktemp("compare")
    first = RunDir(root / "minilm-a")
    shutil.copytree(run.root, first.root, ignore=shutil.ignore_patterns("checkpoints", "runs", "card"))
    second = RunDir(root / "minilm-b")
    shutil.copytree(run.root, second.root, ignore=shutil.ignore_patterns("checkpoints", "runs", "card", "report"))
    return first, second


def test_compare_writes_markdown_json_and_plot(runs, tmp_path):
    first, second = runs
    comparison = compare_runs([first.root, second.root])
    markdown = write_comparison(comparison, tmp_path)
    payload = json.loads((tmp_path / "comparison.json").read_text())
    assert [run["name"] for run in payload["runs"]] == ["minilm-a", "minilm-b"]
    assert payload["test_split_sha256"] == hash_test_split(first) and payload["test_rows"] == len(pd.read_parquet(first.split("test")))
    best = comparison.run(comparison.best)
    other = next(run for run in comparison.runs if run is not best)
    assert other.vs_best["p_value"] == 1.0 and other.vs_best["verdict"] == "tie"  # same weights, same predictions
    assert best.parameters and best.parameters > 20_000_000  # MiniLM-L6: about 22.7M
    for run in comparison.runs:
        assert run.intervals["f1_macro"]["low"] <= run.metrics["f1_macro"] <= run.intervals["f1_macro"]["high"]
    text = markdown.read_text()
    assert "| minilm-a |" in text and "| minilm-b |" in text and "](comparison.png)" in text and "share every training setting" in text
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert (second.report / "predictions.parquet").is_file()  # evaluated first


def test_compare_refuses_different_test_splits(runs, tmp_path):
    first, second = runs
    other = RunDir(tmp_path / "other")
    shutil.copytree(second.root, other.root)
    test = pd.read_parquet(other.split("test"))
    test.iloc[:-1].to_parquet(other.split("test"), index=False)
    with pytest.raises(CompareError, match=r"other: its test split differs from .*minilm-a's \(sha256 of texts\+labels"):
        compare_runs([first.root, other.root])
    with pytest.raises(CompareError, match="at least two"):
        compare_runs([first.root])


def test_card_model_selection_section_survives_a_re_render(runs, tmp_path):
    from hubtools.cards import write_model_card

    first, second = runs
    readme = write_model_card(first.root, tmp_path / "card", compare=[second.root])
    text = ModelCard.load(readme).text
    assert "## Model selection" in text and "| **minilm-a (this model)** |" in text and "| minilm-b |" in text
    assert "+0.0%" in text and (tmp_path / "card" / "model_selection.png").is_file()
    again = ModelCard.load(write_model_card(first.root, tmp_path / "again")).text  # as `publish --render-card` does
    assert "## Model selection" in again


def test_formats_for_people():
    assert format_duration(305.7) == "5 min 6 s" and format_duration(42) == "42 s" and format_duration(3725) == "1 h 2 min"
    assert format_gain(0.0716) == "+7.2%" and format_gain(None) == "–"
    assert [format_size(size) for size in (512, 999_949, 1_234_567, 2_500_000_000, 1_500_000_000_000, None)] == [
        "512 B", "999.9 kB", "1.2 MB", "2.5 GB", "1500.0 GB", "–",
    ]


def test_cli_compare(runs, tmp_path):
    from typer.testing import CliRunner

    from hubtools.cli import app

    first, second = runs
    result = CliRunner().invoke(app, ["compare", str(first.root), str(second.root), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "2 runs compared" in result.output and (tmp_path / "cmp" / "comparison.md").is_file()
