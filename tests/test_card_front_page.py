"""The model card's front page on the committed quickstart-like fixture run (tests/fixtures/run-minimal): each fact
once, Hub-relative links, the verdict in plain words, huggingface_hub's template sections, and each warning when (and
only when) its condition holds (synthetic metrics written into a copy of the fixture)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from huggingface_hub import DatasetCard

from hubtools.card import write_dataset_repo, write_model_card
from hubtools.card.prose import dataset_card_gaps
from hubtools.evaluation.write import render_report_markdown

FIXTURE = Path(__file__).parent / "fixtures" / "run-minimal"
LINKS = {"model_repo_id": "acme/minilm-comments", "dataset_repo_id": "acme/minilm-comments-data", "space_repo_id": "acme/minilm-comments-demo"}


def required_template_sections() -> list[str]:
    """The `## ` sections huggingface_hub's own model card template does not mark `[optional]`, as it spells them."""
    import huggingface_hub

    template = Path(huggingface_hub.__file__).parent / "templates" / "modelcard_template.md"
    return [line for line in template.read_text().splitlines() if line.startswith("## ") and "[optional]" not in line]


TEMPLATE_SECTIONS = (
    *required_template_sections(), "### Model Description", "### Out-of-Scope Use", "### Training Data", "### Training Procedure",
    "#### Training Hyperparameters", "## Technical Specifications", "### Model Architecture and Objective", "## Citation",
)


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture()
def card(hub):
    """Render the card as publish would for the embedded Hub (http://127.0.0.1:PORT), where the dataset repo does
    not exist yet (so no .eval_results); returns README.md's text."""

    def render(run: Path, tmp_path: Path) -> str:
        return write_model_card(run, tmp_path / "card", **LINKS, endpoint=hub.endpoint).read_text(encoding="utf-8")

    return render


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def front_page(text: str) -> str:
    """From the title to the first folded section."""
    body = text.split("\n---\n", 1)[1]
    return body.split("<details>")[0]


def test_each_fact_is_stated_once_with_hub_relative_links(run, tmp_path, card):
    text = card(run, tmp_path)
    body = text.split("\n---\n", 1)[1]
    assert "127.0.0.1" not in text and "localhost" not in text and "hosted on" not in text  # the Hub is at 127.0.0.1:PORT
    once = [
        "Argumentative, Expressive, Informational, Neutral, Opinion",  # the label list
        "[sentence-transformers/all-MiniLM-L6-v2]",  # the base model (front matter aside)
        "/spaces/acme/minilm-comments-demo",  # the Space
        "highest validation f1_macro (0.7625)",  # the checkpoint choice
        "](/datasets/acme/minilm-comments-data)",  # the dataset card
    ]
    assert {fact: body.count(fact) for fact in once} == {fact: 1 for fact in once}
    assert "| hyperparameter |" not in body and "| split | rows |" not in body  # training_config.yaml and the dataset card hold them
    assert "[training_config.yaml](training_config.yaml)" in body and "```yaml" not in body
    for section in TEMPLATE_SECTIONS:
        assert body.count(section + "\n") == 1, section
    assert "## Warnings" in front_page(text) and "## Results" in front_page(text)
    for detail in ("Per class", "Most confident errors", "Calibration", "Baseline comparison", "By platform", "Training results", "Software"):
        assert f"<summary>{detail}</summary>" in body


def test_the_verdict_is_in_plain_words_against_the_baseline_and_the_majority_class(run, tmp_path, card):
    text = card(run, tmp_path)
    verdict = front_page(text).split("\n\n")[2]
    assert "it **cannot be told apart from** a TF-IDF (word 1-2 grams) + logistic regression baseline" in verdict
    assert "paired bootstrap, p = 0.074" in verdict and "same label for 12 of the 21 test texts" in verdict
    assert "most frequent label (Expressive: accuracy 0.2381" in verdict and "**is higher**" in verdict

    edit_json(run / "report" / "metrics.json", lambda report: report["baseline"].update(same_predictions=21))
    text = card(run, tmp_path)
    assert "**The model and the baseline predict the same label for every one of the 21 test texts**" in text


def test_the_binary_task_metric_leads_the_verdict(run, tmp_path, card):
    def binary(report):
        report |= {"positive_label": "Opinion", "f1": 0.8, "precision": 1.0, "recall": 0.67}
        report["baseline"] |= {"f1": 0.8}
        report["vs_baseline_binary"] = report["vs_baseline"] | {"metric": "f1", "difference": 0.0, "p_value": 1.0, "verdict": "tie"}

    edit_json(run / "report" / "metrics.json", binary)
    verdict = front_page(card(run, tmp_path)).split("\n\n")[2]
    assert verdict.index("F1 (Opinion) 0.8000 vs 0.8000") < verdict.index("On F1 (macro) it")


def test_p_values_have_one_format_in_card_and_report(run, tmp_path, card):
    edit_json(run / "report" / "metrics.json", lambda report: report["vs_baseline"].update(p_value=0.0))
    text = card(run, tmp_path)
    report = render_report_markdown(json.loads((run / "report" / "metrics.json").read_text()))
    for markdown in (text, report):
        assert "p < 0.001" in markdown and not re.search(r"p = 0\.0+\b", markdown)


WARNINGS = {
    "majority": "is at or below the majority class rate",
    "gap": "Validation and test disagree",
    "ece": "Calibration error (ECE) is",
    "confused": "are predicted Informational: the model mostly fails to recognise Argumentative",
    "shared": "test texts also appear in train",
    "balance": "The class balance shifts between splits",
    "loss": "Validation loss rises from",
    "selection": "The checkpoint was chosen by validation",
    "threads": "Training used 1 of the machine's 2 CPU cores",
}


def warnings_in(text: str) -> set[str]:
    block = text.split("## Warnings", 1)[1].split("\n## ", 1)[0] if "## Warnings" in text else ""
    return {name for name, phrase in WARNINGS.items() if phrase in block}


def test_warnings_of_the_fixture(run, tmp_path, card):
    assert warnings_in(card(run, tmp_path)) == {"gap", "ece", "confused"}


def test_no_warning_when_nothing_is_wrong(run, tmp_path, card):
    edit_json(run / "metrics.json", lambda metrics: metrics["validation"].update(f1_macro=0.70))
    edit_json(run / "report" / "metrics.json", lambda report: report.update(ece=0.05, confusion_matrix=[[2, 0, 2, 0, 0], *report["confusion_matrix"][1:]]))
    text = card(run, tmp_path)
    assert "## Warnings" not in text


def test_accuracy_at_the_majority_rate_is_a_warning(run, tmp_path, card):
    majority = json.loads((run / "report" / "metrics.json").read_text())["majority_class"]["accuracy"]
    edit_json(run / "metrics.json", lambda metrics: metrics["test"].update(accuracy=majority))
    text = card(run, tmp_path)
    assert "majority" in warnings_in(text) and "**is no higher**" in text


def test_train_and_test_sharing_texts_is_a_warning_with_label_disagreements(run, tmp_path, card):
    train, test = pd.read_parquet(run / "data" / "train.parquet"), pd.read_parquet(run / "data" / "test.parquet")
    shared = test.iloc[:2].assign(label=[test.label.iloc[0], "Neutral" if test.label.iloc[1] != "Neutral" else "Opinion"])
    pd.concat([train, shared], ignore_index=True).to_parquet(run / "data" / "train.parquet", index=False)
    edit_json(run / "dataset_stats.json", lambda stats: stats["leakage"].update(test=2, removed=False))
    text = card(run, tmp_path)
    assert "shared" in warnings_in(text)
    assert "2 test texts also appear in train (1 of them with a different label there)" in text


def test_errors_flagged_as_label_noise_are_marked(run, tmp_path, card):
    flagged = pd.read_csv(run / "report" / "label_issues.csv")
    first_error = pd.read_csv(run / "report" / "misclassified.csv").iloc[0]
    extra = {"split": "test", "row": 1, "text": first_error.text, "label": first_error.label, "suggested": first_error.predicted, "label_quality": 0.1}
    pd.concat([flagged, pd.DataFrame([extra])]).to_csv(run / "report" / "label_issues.csv", index=False)
    rows = [line for line in card(run, tmp_path).splitlines() if line.startswith("| The voting rules change fails")]
    assert rows and rows[0].endswith("| yes: the label looks wrong |")


def test_the_published_config_trains_on_the_published_files(run, tmp_path, card, monkeypatch):
    from hubtools.config import load_config
    from hubtools.data import prepare_data

    card(run, tmp_path)
    published = tmp_path / "card" / "training_config.yaml"
    config = yaml.safe_load(published.read_text())
    assert config["card"]["prose"] is None and config["data"]["path"] is None
    clone = tmp_path / "clone"  # a folder holding what the model and dataset repos publish
    shutil.copytree(run / "data", clone / "data")
    shutil.copy(published, clone)
    monkeypatch.chdir(clone)
    prepared = prepare_data(load_config("training_config.yaml").data)
    assert {name: len(frame) for name, frame in prepared.splits.items()} == {"train": 106, "validation": 22, "test": 21}
    assert prepared.label_names == json.loads((run / "report" / "metrics.json").read_text())["label_names"]


def test_dataset_card_has_citation_contact_creators_and_says_its_gaps(run, tmp_path, card):
    readme = write_dataset_repo(run, tmp_path / "dataset", dataset_repo_id="acme/minilm-comments-data", endpoint="http://127.0.0.1:9")  # no Hub call
    dataset_card = DatasetCard.load(readme)
    assert (dataset_card.data.language_creators, dataset_card.data.multilinguality) == (["found"], ["monolingual"])
    text = dataset_card.text
    assert "## Citation" in text and "## Dataset Card Contact" in text and "127.0.0.1" not in readme.read_text()
    assert "#### Likely label errors" in text and (tmp_path / "dataset" / "label_issues.csv").is_file()
    assert dataset_card_gaps(run) == [
        "the dataset card lacks dataset_license (the card says `other`; or pass --license); direct_use / out_of_scope_use "
        "(no Uses section); language_creators (the metadata says `found`: texts collected as people wrote them): add them to "
        "quickstart.card.yaml; configs/quickstart.card.yaml shows every key"
    ]


def test_every_headline_metric_has_its_interval_or_stays_out_of_the_table(run, tmp_path, card):
    table = [line for line in card(run, tmp_path).splitlines() if line.startswith(("| Precision", "| Recall"))]
    assert len(table) == 4 and all(re.search(r"\| \d\.\d{4} – \d\.\d{4} \|", line) for line in table)

    def older_run(metrics):  # evaluated before precision/recall had intervals
        for key in ("precision_macro", "recall_macro", "precision_weighted", "recall_weighted"):
            del metrics["test"]["intervals"][key]

    edit_json(run / "metrics.json", older_run)
    text = card(run, tmp_path)
    assert not [line for line in text.splitlines() if line.startswith(("| Precision", "| Recall"))]
    assert "Scored without an interval (the run was evaluated before hubtools computed one): Precision (macro) 0.6800" in text


def test_a_class_balance_shift_between_train_and_test_is_a_warning(run, tmp_path, card):
    """Opinion is 20.0% of train but 60.0% of test: 40 points apart and far beyond chance at these sizes."""
    from scipy.stats import chi2_contingency

    train = {"Argumentative": 200, "Expressive": 200, "Informational": 200, "Neutral": 200, "Opinion": 200}
    test = {"Argumentative": 10, "Expressive": 10, "Informational": 10, "Neutral": 10, "Opinion": 60}

    def shift(stats):
        stats["splits"]["train"] |= {"rows": 1000, "labels": train}
        stats["splits"]["test"] |= {"rows": 100, "labels": test}

    edit_json(run / "dataset_stats.json", shift)
    assert chi2_contingency([list(train.values()), list(test.values())]).pvalue < 0.001
    text = card(run, tmp_path)
    assert "balance" in warnings_in(text)
    assert "Opinion is 20.0% of train but 60.0% of test (more than 5 percentage points apart, chi-square p < 0.001)" in text


def test_validation_loss_rising_while_the_selection_metric_is_flat_is_a_warning(run, tmp_path, card):
    """A third epoch: validation loss 1.3110 -> 1.5000 (+14%, above the 10% allowed) while F1 (macro) moves 0.7625 -> 0.7700."""
    def third_epoch(rows):
        rows.append(rows[-1] | {"epoch": 3.0, "step": 21, "validation_loss": 1.5, "f1_macro": 0.77})

    edit_json(run / "log_history.json", third_epoch)
    text = card(run, tmp_path)
    assert "loss" in warnings_in(text)
    assert "Validation loss rises from 1.3110 (epoch 2) to 1.5000 (epoch 3) while validation F1 (macro) stays flat (0.7625 → 0.7700)" in text

    edit_json(run / "log_history.json", lambda rows: rows[-1].update(f1_macro=0.80))  # the metric still improves: no warning
    assert "loss" not in warnings_in(card(run, tmp_path))


def test_a_checkpoint_chosen_by_another_metric_than_the_headline_is_a_warning(run, tmp_path, card):
    edit_json(run / "checkpoint_selection.json", lambda choice: choice.update(metric="accuracy"))
    text = card(run, tmp_path)
    assert "selection" in warnings_in(text)
    assert "chosen by validation Accuracy, but this card leads with F1 (macro), the task's metric" in text


def test_training_on_fewer_threads_than_cores_is_a_warning_and_the_hardware_says_so(run, tmp_path, card):
    edit_json(run / "environment.json", lambda environment: environment.update(torch_threads=1, torch_threads_reason="1 core busy"))
    text = card(run, tmp_path)
    assert "threads" in warnings_in(text) and "(1 core busy)" in text
    assert "**Hardware type:** 1 of 2 CPU cores" in text


def test_the_model_card_names_only_sections_the_dataset_card_has(run, tmp_path, card, hub):
    """The fixture's prose has `labelling`; a prose file without it leaves the dataset card without an annotation process,
    and the model card must not claim one."""
    text = card(run, tmp_path / "with")
    assert "; its card has the label distribution, rows per platform, the labelling." in text
    dataset = DatasetCard.load(write_dataset_repo(run, tmp_path / "dataset-with", dataset_repo_id=LINKS["dataset_repo_id"])).text
    assert all(heading in dataset for heading in ("### Label distribution", "### Rows per platform", "#### Annotation process"))

    prose = tmp_path / "plain.card.yaml"
    prose.write_text("description: Comments sorted by style.\n")
    without = write_model_card(run, tmp_path / "without", **LINKS, endpoint=hub.endpoint, prose=prose).read_text(encoding="utf-8")
    assert "; its card has the label distribution, rows per platform." in without
    dataset = DatasetCard.load(write_dataset_repo(run, tmp_path / "dataset-without", dataset_repo_id=LINKS["dataset_repo_id"], prose=prose)).text
    assert "#### Annotation process" not in dataset and "### Rows per platform" in dataset
