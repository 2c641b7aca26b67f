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
    """The trained run, a copy of it without its report (so compare evaluates it first), and a degraded copy.

    The degraded copy's classifier head always answers the first label, so it scores far worse on the same test split.
    """
    run = trained_run(tmp_path_factory)
    root = tmp_path_factory.mktemp("compare")
    first = RunDir(root / "minilm-a")
    shutil.copytree(run.root, first.root, ignore=shutil.ignore_patterns("checkpoints", "runs", "card"))
    second = RunDir(root / "minilm-b")
    shutil.copytree(run.root, second.root, ignore=shutil.ignore_patterns("checkpoints", "runs", "card", "report"))
    degraded = RunDir(root / "minilm-degraded")
    shutil.copytree(run.root, degraded.root, ignore=shutil.ignore_patterns("checkpoints", "runs", "card", "report"))
    answer_the_first_label_always(degraded)
    return first, second, degraded


def answer_the_first_label_always(run: RunDir) -> None:
    from safetensors.torch import load_file, save_file

    weights_file = run.model / "model.safetensors"
    weights = load_file(weights_file)
    weights["classifier.weight"].zero_()
    weights["classifier.bias"].zero_()
    weights["classifier.bias"][0] = 10.0
    save_file(weights, weights_file, metadata={"format": "pt"})


def test_compare_writes_markdown_json_and_plot(runs, tmp_path):
    first, second, degraded = runs
    comparison = compare_runs([degraded.root, first.root, second.root])  # the worst first: the winner is not the first listed
    markdown = write_comparison(comparison, tmp_path)
    payload = json.loads((tmp_path / "comparison.json").read_text())
    assert [run["name"] for run in payload["runs"]] == ["minilm-degraded", "minilm-a", "minilm-b"]
    assert payload["test_split_sha256"] == hash_test_split(first) and payload["test_rows"] == len(pd.read_parquet(first.split("test")))
    assert comparison.best == "minilm-a"  # a and b tie on every score; the first of the best is named
    predictions = pd.read_parquet(degraded.report / "predictions.parquet")
    first_label = json.loads((degraded.model / "config.json").read_text())["id2label"]["0"]
    assert set(predictions["predicted"]) == {first_label}  # the degraded head was really evaluated
    worst, tied = comparison.run("minilm-degraded"), comparison.run("minilm-b")
    assert worst.metrics["f1_macro"] < comparison.run("minilm-a").metrics["f1_macro"] / 2
    assert worst.vs_best["verdict"] == "better" and worst.vs_best["p_value"] < 0.05 and worst.vs_best["difference"] > 0
    assert worst.relative_gain is not None and worst.relative_gain > 1  # the best scores over twice the degraded run
    assert tied.vs_best["p_value"] == 1.0 and tied.vs_best["verdict"] == "tie"  # same weights, same predictions
    assert comparison.run("minilm-a").parameters > 20_000_000  # MiniLM-L6: about 22.7M
    for run in comparison.runs:
        assert run.intervals["f1_macro"]["low"] <= run.metrics["f1_macro"] <= run.intervals["f1_macro"]["high"]
    text = markdown.read_text()
    assert "| minilm-a |" in text and "| minilm-b |" in text and "| minilm-degraded |" in text and "](comparison.png)" in text
    assert "share every training setting" in text and "**minilm-a**" in text
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert (second.report / "predictions.parquet").is_file()  # evaluated first


def test_compare_refuses_different_test_splits(runs, tmp_path):
    first, second, _ = runs
    other = RunDir(tmp_path / "other")
    shutil.copytree(second.root, other.root)
    test = pd.read_parquet(other.split("test"))
    test.iloc[:-1].to_parquet(other.split("test"), index=False)
    with pytest.raises(CompareError, match=r"other: its test split differs from .*minilm-a's \(sha256 of texts\+labels"):
        compare_runs([first.root, other.root])
    with pytest.raises(CompareError, match="at least two"):
        compare_runs([first.root])


def test_card_model_selection_section_survives_a_re_render(runs, tmp_path):
    from hubtools.card import write_model_card

    first, second, _ = runs
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

    first, second, _ = runs
    result = CliRunner().invoke(app, ["compare", str(first.root), str(second.root), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "2 runs compared" in result.output and (tmp_path / "cmp" / "comparison.md").is_file()
