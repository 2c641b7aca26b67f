"""Golden-structure tests of the model and dataset cards rendered from a real tiny run."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
import yaml
from huggingface_hub import DatasetCard, ModelCard
from trained_run import trained_run

from hubtools.card import write_dataset_repo, write_model_card
from hubtools.card.context import main_confusions
from hubtools.card.facts import CARD_METRICS, CardError
from hubtools.card.model_index import metric_key
from hubtools.card.prose import card_gaps
from hubtools.card.write import HUB_MODEL_KEYS
from hubtools.config import load_config

LINKS = {"model_repo_id": "acme/quick", "dataset_repo_id": "acme/quick-data", "space_repo_id": "acme/quick-demo"}
MODEL_SECTIONS = (
    "## Results", "## Model Details", "### Model Description", "## Uses", "### Direct Use", "### Out-of-Scope Use",
    "### Label definitions", "## Bias, Risks, and Limitations", "## How to Get Started with the Model", "## Training Details",
    "### Training Data", "<summary>Training examples</summary>", "### Training Procedure", "#### Training Hyperparameters",
    "<summary>Training results</summary>", "## Evaluation", "<summary>Per class</summary>", "<summary>Most confident errors</summary>",
    "<summary>Calibration</summary>", "<summary>Baseline comparison</summary>",
    "## Environmental Impact", "## Technical Specifications", "<summary>Software</summary>", "## Citation", "## Model Card Contact",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def card_dir(run, hub, tmp_path_factory):
    """Rendered for a dataset repo that does not exist (yet) on the embedded Hub: no benchmark, no .eval_results."""
    out = tmp_path_factory.mktemp("card")
    write_model_card(run.root, out, **LINKS, endpoint=hub.endpoint)
    return out


def tables(markdown: str) -> list[list[str]]:
    """Markdown tables as lists of lines (consecutive lines starting with '|')."""
    found, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def assert_tables_well_formed(markdown: str) -> None:
    for table in tables(markdown):
        assert len(table) >= 3, table
        assert re.fullmatch(r"\|(---\|)+", table[1]), table
        widths = {line.count("|") for line in table}
        assert len(widths) == 1, table


def test_model_card_round_trips_and_holds_hub_metadata(run, card_dir):
    card = ModelCard.load(card_dir / "README.md")
    front = yaml.safe_load((card_dir / "README.md").read_text().split("---")[1])
    assert set(front) <= HUB_MODEL_KEYS
    assert card.data.pipeline_tag == "text-classification"
    assert card.data.datasets == ["acme/quick-data"]
    assert card.data.license == "apache-2.0" and card.data.language == ["en"]
    assert card.data.base_model is None  # a local folder is no Hub id; the card names it in the text instead
    assert [item["text"] for item in card.data.widget] == load_config(run.config).card.widget_examples
    assert card.data.model_name == "quick"


def test_model_index_holds_the_test_split_rounded(run, card_dir):
    metrics = json.loads(run.metrics.read_text())
    results = ModelCard.load(card_dir / "README.md").data.eval_results
    reported = {(result.dataset_split, metric_key(result)): result.metric_value for result in results}
    expected = {("test", key): round(metrics["test"][key], 4) for key in CARD_METRICS if key in metrics["test"]}
    assert reported == expected  # no validation split: it chose the checkpoint, so it stays in the body
    assert ("test", "f1_macro") in reported and ("test", "f1_weighted") in reported
    assert "validation" not in (card_dir / "README.md").read_text().split("---")[1]


def test_no_eval_results_for_a_dataset_that_is_no_benchmark(card_dir):
    assert not (card_dir / ".eval_results").exists()  # acme/quick-data has no eval.yaml


def test_eval_results_for_a_benchmark_dataset(run, hub, tmp_path):
    from huggingface_hub import parse_eval_result_entries

    from hubtools.card.benchmark import write_benchmark_declaration

    token = hub.token("bench", ["benchorg"])
    api = hub.api(token)
    api.create_repo("benchorg/emotions", repo_type="dataset")
    declaration = write_benchmark_declaration(tmp_path)
    commit = api.upload_file(path_or_fileobj=str(declaration), path_in_repo="eval.yaml", repo_id="benchorg/emotions", repo_type="dataset")
    out = tmp_path / "card"
    write_model_card(run.root, out, model_repo_id="benchorg/quick", dataset_repo_id="benchorg/emotions", endpoint=hub.endpoint,
                      dataset_revision=commit.oid, token=token)
    entries = parse_eval_result_entries(yaml.safe_load((out / ".eval_results" / "hubtools.yaml").read_text()))
    test = json.loads(run.metrics.read_text())["test"]
    assert {entry.task_id: entry.value for entry in entries} == {"f1_macro": round(test["f1_macro"], 4), "accuracy": round(test["accuracy"], 4)}
    assert {(entry.dataset_id, entry.dataset_revision) for entry in entries} == {("benchorg/emotions", commit.oid)}
    assert {result.dataset_revision for result in ModelCard.load(out / "README.md").data.eval_results} == {commit.oid}


def test_an_unreadable_benchmark_declaration_fails_the_render_and_keeps_the_eval_results(run, hub, tmp_path):
    """Only the Hub's "no eval.yaml" means "no benchmark": a Hub that cannot be reached must not remove .eval_results."""
    from hubtools.card.benchmark import write_benchmark_declaration
    from hubtools.errors import HubtoolsError
    from hubtools.ports import free_port

    token = hub.token("bench", ["benchorg"])
    api = hub.api(token)
    api.create_repo("benchorg/kept", repo_type="dataset")
    api.upload_file(path_or_fileobj=str(write_benchmark_declaration(tmp_path)), path_in_repo="eval.yaml", repo_id="benchorg/kept", repo_type="dataset")
    out = tmp_path / "card"
    links = {"model_repo_id": "benchorg/quick", "dataset_repo_id": "benchorg/kept", "token": token}
    write_model_card(run.root, out, **links, endpoint=hub.endpoint)
    before = {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert (out / ".eval_results" / "hubtools.yaml").is_file()

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(HubtoolsError, match=r"cannot reach the Hub at .*eval.yaml of dataset repo benchorg/kept at .*the card was not written") as raised:
        write_model_card(run.root, out, **links, endpoint=closed)

    assert "\n" not in str(raised.value) and token not in str(raised.value)
    assert {path.relative_to(out): path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


def test_model_card_sections_and_tables(run, hub, card_dir):
    text = ModelCard.load(card_dir / "README.md").text
    positions = [text.index(section) for section in MODEL_SECTIONS]
    assert positions == sorted(positions)
    assert_tables_well_formed(text)
    assert (card_dir / "confusion_matrix.png").is_file() and "](confusion_matrix.png)" in text
    assert 'pipeline("text-classification", model="acme/quick")' in text
    assert "](/spaces/acme/quick-demo)" in text and "](/datasets/acme/quick-data)" in text
    assert hub.endpoint not in text  # links are relative to whichever Hub serves the card
    assert "hubtools train --config training_config.yaml" in text and "[training_config.yaml](training_config.yaml)" in text
    assert "Hyperparameter search" not in text
    assert (card_dir / "reliability_diagram.png").is_file() and "](reliability_diagram.png)" in text
    assert "## Citation" in text
    citation = text.split("## Citation", 1)[1]  # the base model all-MiniLM-L6-v2 is a Sentence-BERT model: its paper
    assert "@inproceedings{reimers-2019-sentence-bert" in citation and "Reimers, Nils and Gurevych, Iryna" in citation


def test_first_paragraph_says_whether_the_model_beats_the_baseline(run, card_dir):
    text = ModelCard.load(card_dir / "README.md").text
    first_paragraph = text.split("\n\n")[2]  # after the title and the one-line description
    verdict = json.loads((run.report / "metrics.json").read_text())["vs_baseline"]
    phrase = {"better": "**beats**", "worse": "**scores below**", "tie": "**cannot be told apart from**"}[verdict["verdict"]]
    assert phrase in first_paragraph and "paired bootstrap, p" in first_paragraph and "most frequent label" in first_paragraph
    assert "TF-IDF" in first_paragraph


def test_checkpoint_confusions_examples_and_training_time(run, card_dir):
    text = ModelCard.load(card_dir / "README.md").text
    choice = json.loads(run.checkpoint_selection.read_text())
    assert text.count(f"`{choice['checkpoint']}`") == 1 and text.count(choice["reason"]) == 1
    report = json.loads((run.report / "metrics.json").read_text())
    for sentence in main_confusions(report):
        assert sentence in text
    examples = [table for table in tables(text) if table[0] == "| label | text |"][0]
    assert {line.split(" | ")[0].lstrip("| ") for line in examples[2:]} == set(report["label_names"])
    assert not [table for table in tables(text) if table[0].startswith("| hyperparameter |")]  # training_config.yaml holds them
    assert re.search(r"\*\*Training time \(measured\):\*\* (\d+ min )?\d+ s", text) and "**Hardware type:** " in text


def test_main_confusions_sentences():
    report = {"label_names": ["Opinion", "Expressive", "Neutral"], "confusion_matrix": [[9, 3, 0], [1, 10, 0], [0, 0, 5]]}
    assert main_confusions(report) == ["25% of Opinion texts (3 of 12) are predicted Expressive."]


def test_citation_of_known_base_models():
    from hubtools.citations import base_model_citation

    assert "Sentence-BERT" in base_model_citation("sentence-transformers/all-MiniLM-L6-v2")
    assert "BERTweet" in base_model_citation("vinai/bertweet-large")
    assert "RoBERTa" in base_model_citation("roberta-base")
    assert base_model_citation("acme/unknown-model") is None


def test_model_card_numbers_come_from_the_run(run, card_dir):
    text = ModelCard.load(card_dir / "README.md").text
    report = json.loads((run.report / "metrics.json").read_text())
    for label, row in report["per_class"].items():
        assert f"| {label} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']} |" in text
    epochs = json.loads(run.log_history.read_text())
    results = [table for table in tables(text) if table[0].startswith("| training loss |")][0]
    assert len(results) == 2 + len(epochs)
    for line, row in zip(results[2:], epochs):
        assert f"| {row['epoch']} | {row['step']} | {row['validation_loss']:.4f} | {row['accuracy']:.4f} | {row['f1_macro']:.4f} | {row['f1_weighted']:.4f} |" in line
    test = json.loads(run.metrics.read_text())["test"]
    interval = test["intervals"]["f1_macro"]
    assert f"| F1 (macro) | {test['f1_macro']:.4f} | {interval['low']:.4f} – {interval['high']:.4f} |" in text
    assert f"| {report['baseline']['name']} | {report['baseline']['accuracy']:.4f} |" in text


def test_missing_prose_is_said_plainly(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run.root, copy, ignore=shutil.ignore_patterns("checkpoints", "runs", "card"))
    config = yaml.safe_load((copy / "config.yaml").read_text())
    prose = tmp_path / "partial.card.yaml"
    prose.write_text("description: Only a description.\n")
    config["card"]["prose"] = str(prose)
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    # A synthetic search record, to check the trials table renders (not a result of this run).
    (copy / "hp_search").mkdir()
    trials = [
        {"number": 0, "state": "COMPLETE", "params": {"learning_rate": 1e-4}, "value": 0.5, "epoch_scores": {"1": 0.4, "2": 0.5}, "duration_s": 12.0},
        {"number": 1, "state": "PRUNED", "params": {"learning_rate": 2e-5}, "value": None, "epoch_scores": {"1": 0.2}, "duration_s": 5.0},
    ]
    (copy / "hp_search" / "trials.json").write_text(json.dumps(trials))
    text = ModelCard.load(write_model_card(copy)).text
    assert "Only a description." in text
    assert "Not provided" not in text and "_not defined_" not in text  # no author to-do is ever published
    for heading in ("### Direct Use", "### Label definitions", "**Labelling.**"):
        assert heading not in text
    limitations = text.split("## Bias, Risks, and Limitations\n", 1)[1].split("\n## ", 1)[0]
    assert limitations.strip().startswith("Its trainer described none in words; what was measured is below")
    assert "## Citation" in text and "Sentence-BERT" in text  # the base model's BibTeX (config.model is all-MiniLM-L6-v2)
    assert card_gaps(copy) == [
        "7 card section(s) only you can write are missing (intended_uses, model_out_of_scope_use, limitations, label_definitions, "
        "data_description, labelling, model_card_contact): add them to partial.card.yaml; configs/quickstart.card.yaml shows every "
        "key (docs/reporting.md, Card prose)"
    ]
    trial_table = [table for table in tables(text) if table[0].startswith("| trial |")][0]
    assert len(trial_table) == 4 and "PRUNED" in trial_table[3]
    assert_tables_well_formed(text)


def test_missing_prose_file_is_one_line(run, tmp_path):
    with pytest.raises(CardError, match="nowhere.card.yaml: card prose file not found"):
        write_model_card(run.root, tmp_path, prose=tmp_path / "nowhere.card.yaml")


def test_existing_card_is_kept_without_overwrite(run, card_dir):
    with pytest.raises(CardError, match="--overwrite"):
        write_model_card(run.root, card_dir, overwrite=False)


DATASET_SECTIONS = (
    "## Dataset Details", "## Uses", "### Direct Use", "### Out-of-Scope Use", "## Dataset Structure", "### Label definitions",
    "### Label distribution", "### Rows per platform", "### Text length", "## Dataset Creation", "### Curation Rationale",
    "### Source Data", "#### Data Collection and Processing", "#### Who are the source data producers?", "### Annotations",
    "#### Annotation process", "#### Personal and Sensitive Information", "## Bias, Risks, and Limitations", "### Recommendations",
    "## Dataset Card Authors",
)


def test_dataset_card_from_run(run, tmp_path):
    from datasets import ClassLabel, load_dataset

    readme = write_dataset_repo(run.root, tmp_path, dataset_repo_id="acme/quick-data", model_repo_id="acme/quick")
    card = DatasetCard.load(readme)
    data = card.data
    assert (data.task_categories, data.task_ids, data.size_categories) == (["text-classification"], ["multi-class-classification"], ["n<1K"])
    assert (data.license, data.language, data.annotations_creators, data.source_datasets) == ("cc0-1.0", ["en"], ["machine-generated"], ["original"])
    assert "synthetic" in data.tags  # the quickstart sample is generated, and says so
    text = card.text
    assert [section for section in DATASET_SECTIONS if section not in text] == []
    assert "Not provided" not in text and "More Information Needed" not in text
    assert "## Citation" in text and "[this dataset's Community tab](/datasets/acme/quick-data/discussions)" in text
    assert (data.language_creators, data.multilinguality) == (["machine-generated"], ["monolingual"])
    assert_tables_well_formed(text)
    assert not re.search(r"\d\.\d{3,}(?![\d|]*kappa)", text.split("Agreement:")[0]), "numbers are formatted for people"

    id2label = json.loads((run.model / "config.json").read_text())["id2label"]
    names = [id2label[key] for key in sorted(id2label, key=int)]
    info = data.dataset_info
    assert {"name": "label", "dtype": {"class_label": {"names": {str(i): name for i, name in enumerate(names)}}}} in info["features"]
    stats = json.loads(run.dataset_stats.read_text())
    assert {split["name"]: split["num_examples"] for split in info["splits"]} == {name: stats["splits"][name]["rows"] for name in ("train", "validation", "test")}
    assert all(split["num_bytes"] > 0 for split in info["splits"])
    assert data.configs == [{"config_name": "default", "data_files": [{"split": name, "path": f"data/{name}.parquet"} for name in ("train", "validation", "test")]}]
    loaded = load_dataset("parquet", data_files={name: str(tmp_path / "data" / f"{name}.parquet") for name in ("train", "validation", "test")})
    assert loaded["train"].features["label"] == ClassLabel(names=names)

    splits = {name: pd.read_parquet(run.split(name)) for name in ("train", "validation", "test")}
    assert loaded["test"].features["label"].int2str(loaded["test"]["label"]) == splits["test"]["label"].tolist()
    for label in stats["label_names"]:
        counts = [int((splits[name].label == label).sum()) for name in ("train", "validation", "test")]
        assert counts == [stats["splits"][name]["labels"][label] for name in ("train", "validation", "test")]
        assert re.search(rf"\| {label} \| {counts[0]} \(.*\) \| {counts[1]} \(.*\) \| {counts[2]} \(.*\) \|", text)
    assert (tmp_path / "label_distribution.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "dataset_stats.json").read_text())["label_names"] == stats["label_names"]  # the card links it


def test_dataset_card_drops_sections_without_prose(run, tmp_path):
    prose = tmp_path / "bare.card.yaml"
    prose.write_text("data_description: Comments.\n")
    card = DatasetCard.load(write_dataset_repo(run.root, tmp_path / "out", prose=prose))
    assert "## Uses" not in card.text and "### Curation Rationale" not in card.text and "Not provided" not in card.text
    assert card.data.license == "other"  # never the model's license (apache-2.0 in the config)


def test_cli_card(run, card_dir, tmp_path):
    from typer.testing import CliRunner

    from hubtools.cli import app

    result = CliRunner().invoke(app, ["card", "--run", str(run.root), "--out", str(tmp_path), "--repo", "acme/quick"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "README.md").is_file() and (tmp_path / "confusion_matrix.png").is_file()
    assert not (tmp_path / ".eval_results").exists()  # needs a benchmark dataset repo


def test_published_files_name_no_local_folder(run, card_dir):
    """The card and its training_config.yaml go to the Hub: no absolute path of this machine in them."""
    published = [card_dir / "README.md", card_dir / "training_config.yaml"]
    local_folders = {str(run.root), str(run.root.parent), str(run.model)}
    for path in published:
        text = path.read_text(encoding="utf-8")
        assert not [folder for folder in local_folders if folder in text], path.name
    shared = yaml.safe_load((card_dir / "training_config.yaml").read_text(encoding="utf-8"))
    assert shared["data"]["path"] is None and shared["card"]["prose"] is None  # the prose file is not published
    assert shared["data"]["files"] == {name: f"data/{name}.parquet" for name in ("train", "validation", "test")}


def test_a_binary_card_and_evaluate_lead_with_the_positive_class_f1(tmp_path_factory):
    """labels hateful/neutral, `positive_label: hateful` (it sorts first): the task's metric is hateful's F1, and the
    card's table, its model-index, `evaluate`'s line and the warnings all say so; the run chose its checkpoint by
    F1 (macro) (configs/quickstart.yaml sets it), which the card must state."""
    from sklearn.metrics import f1_score
    from typer.testing import CliRunner

    from hubtools.cli import app
    from hubtools.rundir import RunDir
    from trained_run import POSITIVE_FIRST, binary_trained_run

    run = RunDir(tmp_path_factory.mktemp("binary-card") / "run")
    shutil.copytree(binary_trained_run(tmp_path_factory).root, run.root)
    result = CliRunner().invoke(app, ["evaluate", "--run", str(run.root)])
    assert result.exit_code == 0, result.output
    predictions = pd.read_parquet(run.report / "predictions.parquet")
    f1 = f1_score(predictions["label"], predictions["predicted"], pos_label=POSITIVE_FIRST)
    macro = f1_score(predictions["label"], predictions["predicted"], average="macro")
    baseline = f1_score(predictions["label"], predictions["baseline_predicted"], pos_label=POSITIVE_FIRST)
    assert f"F1 ({POSITIVE_FIRST}) {f1:.4f}, F1 (macro) {macro:.4f}, accuracy " in result.output
    assert f"(TF-IDF baseline: F1 ({POSITIVE_FIRST}) {baseline:.4f}, F1 (macro) " in result.output

    card = ModelCard.load(write_model_card(run.root))
    table = [line for line in card.text.splitlines() if line.startswith("| ") and " – " in line]
    assert table[0].startswith(f"| F1 ({POSITIVE_FIRST}) | {f1:.4f} |") and table[1].startswith(f"| F1 (macro) | {macro:.4f} |")
    first = card.data.eval_results[0]
    assert (first.metric_type, first.metric_args, first.metric_name) == ("f1", {"average": "binary"}, f"Test F1 ({POSITIVE_FIRST})")
    assert f"The checkpoint was chosen by validation F1 (macro), but this card leads with F1 ({POSITIVE_FIRST}), the task's metric" in card.text


def test_an_unset_selection_metric_is_the_tasks_metric():
    from hubtools.config import RunConfig, TrainingConfig
    from hubtools.train.arguments import with_selection_metric

    binary, five = ["hateful", "neutral"], ["a", "b", "c", "d", "e"]
    assert with_selection_metric(RunConfig(), binary).training.metric_for_best_model == "f1"
    assert with_selection_metric(RunConfig(), five).training.metric_for_best_model == "f1_macro"
    chosen = RunConfig(training=TrainingConfig(metric_for_best_model="accuracy"))
    assert with_selection_metric(chosen, binary).training.metric_for_best_model == "accuracy"
