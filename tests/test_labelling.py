"""Majority vote, ties, agreement and `hubtools dataset build` end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from datasets import ClassLabel, load_dataset
from huggingface_hub import DatasetCard
from sklearn.metrics import cohen_kappa_score

from hubtools.data import DataError
from hubtools.dataset_repo import read_named_split
from hubtools.labelling import LabellingError, build_dataset, fleiss_kappa, majority_vote, pairwise_agreement
from hubtools.rundir import SPLITS

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories; kappa = 0.210.
FLEISS_COUNTS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def test_majority_vote():
    assert majority_vote(["joy", "joy", "anger"]).label == "joy"
    assert majority_vote(["joy", None, "joy"]).label == "joy"
    three_way = majority_vote(["joy", "anger", "sadness"])
    assert three_way.label is None and three_way.tie
    assert majority_vote(["joy", "joy", "anger", "anger"]).tie
    nothing = majority_vote([None, None, None])
    assert nothing.label is None and not nothing.tie


def test_fleiss_kappa_matches_the_worked_example():
    rows = [[f"c{category}" for category, count in enumerate(counts) for _ in range(count)] for counts in FLEISS_COUNTS]
    labels = pd.DataFrame(rows, columns=[f"rater{i}" for i in range(14)])
    assert fleiss_kappa(labels) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(pd.DataFrame({"a": ["x", "y"], "b": ["x", "y"]})) == pytest.approx(1.0)


def test_pairwise_agreement_matches_scikit_learn():
    labels = pd.DataFrame({"a": ["x", "y", "x", "y", None], "b": ["x", "y", "y", "y", "x"], "c": ["x", "x", "x", "y", "y"]})
    pairs = {tuple(pair["labellers"]): pair for pair in pairwise_agreement(labels)}
    assert pairs[("a", "b")]["rows"] == 4 and pairs[("a", "b")]["agreement"] == pytest.approx(0.75)
    assert pairs[("a", "b")]["cohen_kappa"] == pytest.approx(cohen_kappa_score(["x", "y", "x", "y"], ["x", "y", "y", "y"]))
    assert pairs[("b", "c")]["rows"] == 5


def labelled_file(tmp_path, rows_per_label: int = 12):
    rows = []
    for label in ("anger", "joy", "sadness"):
        for index in range(rows_per_label):
            dissent = "joy" if label != "joy" else "anger"
            votes = [label, label, dissent] if index % 3 == 0 else [label, label, label]
            rows.append({"text": f"{label} text number {index}", "ann1": votes[0], "ann2": votes[1], "ann3": votes[2],
                         "source": ("twitter", "reddit")[index % 2], "date": f"2024-03-{index + 1:02d}"})
    rows += [
        {"text": "a three-way tie", "ann1": "anger", "ann2": "joy", "ann3": "sadness", "source": "twitter", "date": "2024-03-01"},
        {"text": "another tie", "ann1": "joy", "ann2": "sadness", "ann3": "anger", "source": "reddit", "date": "2024-03-02"},
        {"text": "ANGER text   number 0", "ann1": "anger", "ann2": "anger", "ann3": "anger", "source": "reddit", "date": "2024-03-05"},
        {"text": "only one labeller", "ann1": "joy", "ann2": None, "ann3": None, "source": "reddit", "date": "2024-02-28"},
    ]
    path = tmp_path / "labelled.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_build_dataset(tmp_path):
    out = build_dataset(labelled_file(tmp_path), ["ann1", "ann2", "ann3"], tmp_path / "built", split_ratios=(0.5, 0.25, 0.25), seed=7, license="cc-by-4.0")
    stats = json.loads((out / "dataset_stats.json").read_text())
    labelling = stats["labelling"]
    assert stats["build"]["input"] == "labelled.csv" and str(tmp_path) not in (out / "dataset_stats.json").read_text()
    assert labelling["rows_in"] == 40 and labelling["ties"] == 2 and labelling["duplicates_removed"] == 1
    assert labelling["rows_out"] == 37 and labelling["fully_labelled"] == 39
    splits = {name: read_named_split(out / "data" / f"{name}.parquet") for name in SPLITS}
    assert load_dataset("parquet", data_files=str(out / "data" / "test.parquet"), split="train").features["label"] == ClassLabel(names=["anger", "joy", "sadness"])
    assert sum(len(frame) for frame in splits.values()) == 37
    assert list(splits["train"].columns) == ["text", "label", "source", "date"]
    for frame in splits.values():
        assert set(frame.label) == {"anger", "joy", "sadness"}
    texts = [set(frame.text) for frame in splits.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert "a three-way tie" not in set().union(*texts)

    card = DatasetCard.load(out / "README.md")
    assert card.data.task_categories == ["text-classification"] and card.data.license == "cc-by-4.0"
    assert card.data.dataset_info["features"][1] == {"name": "label", "dtype": {"class_label": {"names": {"0": "anger", "1": "joy", "2": "sadness"}}}}
    for section in ("### Label distribution", "### Rows per source", "### Dates", "### Text length", "#### Annotation process"):
        assert section in card.text
    assert "| set aside: tie between labels (no majority) | 2 |" in card.text
    assert f"Fleiss' kappa {labelling['fleiss_kappa']:.3f}" in card.text
    assert "from 2024-02-28 to 2024-03-12" in card.text
    assert (out / "label_distribution.png").is_file()

    again = build_dataset(labelled_file(tmp_path), ["ann1", "ann2", "ann3"], tmp_path / "again", split_ratios=(0.5, 0.25, 0.25), seed=7)
    assert read_named_split(again / "data" / "test.parquet").equals(splits["test"])
    with pytest.raises(LabellingError, match="--overwrite"):
        build_dataset(labelled_file(tmp_path), ["ann1", "ann2", "ann3"], tmp_path / "built")


def test_bad_inputs(tmp_path):
    path = labelled_file(tmp_path)
    with pytest.raises(DataError, match="column 'ann9' not found .*--labellers"):
        build_dataset(path, ["ann1", "ann9"], tmp_path / "out")
    with pytest.raises(LabellingError, match="at least two labeller columns"):
        build_dataset(path, ["ann1"], tmp_path / "out")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty; pass a .csv file with the columns 'text', 'ann1', 'ann2'"):
        build_dataset(empty, ["ann1", "ann2"], tmp_path / "out")


def test_cli_dataset_build(tmp_path):
    from typer.testing import CliRunner

    from hubtools.cli import app

    result = CliRunner().invoke(app, ["dataset", "build", "--input", str(labelled_file(tmp_path)), "--labellers", "ann1,ann2,ann3",
                                      "--out", str(tmp_path / "cli"), "--split-ratios", "0.5,0.25,0.25"])
    assert result.exit_code == 0, result.output
    assert "37 rows kept, 2 ties set aside, 1 duplicates removed" in result.output
    assert "likely label errors: " in result.output and "label_issues.csv" in result.output
    assert "the dataset card lacks dataset_license (the card says `other`" in result.output  # the card's gaps, on stderr (mixed into output here)


def test_benchmark_declaration_only_when_asked(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from hubtools.cli import app

    arguments = ["dataset", "build", "--input", str(labelled_file(tmp_path)), "--labellers", "ann1,ann2,ann3", "--split-ratios", "0.5,0.25,0.25"]
    assert CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "plain")]).exit_code == 0
    assert not (tmp_path / "plain" / "eval.yaml").exists()
    result = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "bench"), "--benchmark"])
    assert result.exit_code == 0, result.output
    tasks = yaml.safe_load((tmp_path / "bench" / "eval.yaml").read_text())["tasks"]
    assert [(task["id"], task["split"], task["metric"]) for task in tasks] == [("f1_macro", "test", "f1_macro"), ("accuracy", "test", "accuracy")]
