"""Everything the model card's template may use, collected from the run directory into one typed dataclass
(ModelCardContext): the verdicts (hubtools.card.facts), the warnings, the examples, the training record and the
model selection. Reads only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from huggingface_hub.utils import HFValidationError, validate_repo_id

from hubtools.card.dataset import SOURCE_COLUMNS
from hubtools.card.facts import (
    BaselineVerdict, CardError, HeadlineRow, Links, MajorityVerdict, baseline_verdicts, headline_rows,
    EXAMPLE_CHARACTERS, hide_local_folders, majority_verdict, read_optional_json, shareable_environment, shareable_stats, table_cell,
)
from hubtools.card.prose import Prose, prose_for_model_card
from hubtools.card.warnings import RunRecord, card_warnings, shown_metric
from hubtools.citations import base_model_citation
from hubtools.config import RunConfig, TrainingConfig, shareable_config_dict
from hubtools.formatting import format_duration
from hubtools.label_noise import flagged_texts
from hubtools.metrics import task_metric
from hubtools.rundir import SPLITS, RunDir


TRAIN_EXAMPLES_PER_LABEL = 2
MISCLASSIFIED_IN_CARD = 5
CONFUSION_SHARE = 0.10  # a confusion is "main" when at least this share of a class goes to one other class
MAIN_CONFUSIONS = 3
TRAINING_CONFIG_FILE = "training_config.yaml"  # the shareable config, published next to the card


def is_hub_id(name: str) -> bool:
    """True for `org/name` style ids (what `base_model` must hold); False for local folders."""
    if Path(name).exists() or name.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def published_config(config: RunConfig, label_names: list[str]) -> dict[str, Any]:
    """training_config.yaml as published: it trains on the splits as the dataset repo (and RUN/data) hold them,
    `data/{split}.parquet` relative to the folder it is run from, and names no file that is not published."""
    shared = shareable_config_dict(config)
    shared["data"] |= {
        "path": None, "hub_id": None, "hub_config": None, "files": {split: f"data/{split}.parquet" for split in SPLITS},
        "label_names": list(label_names), "sample_size": None, "create_sample_if_missing": False,
    }
    shared["card"]["prose"] = None
    return shared


def key_hyperparameters(config: RunConfig, checkpoint: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The values a reader looks for first (the rest is in training_config.yaml)."""
    training = config.training
    return [
        ("learning_rate", training.learning_rate),
        ("train_batch_size", training.per_device_train_batch_size),
        ("num_epochs", f"{training.num_train_epochs:g}" + (f" (max_steps {training.max_steps})" if training.max_steps > 0 else "")),
        ("warmup_steps", training.warmup_steps),
        ("weight_decay", training.weight_decay),
        ("max_length", training.max_length),
        ("seed", training.seed),
        ("metric_for_best_model", (checkpoint or {}).get("metric") or training.metric_for_best_model),
    ]


def example_test_text(run: RunDir) -> str:
    """A text of the task for the usage snippet: the first test text, on one line."""
    text = pd.read_parquet(run.split("test"), columns=["text"])["text"].iloc[0]
    return " ".join(str(text).split())[:EXAMPLE_CHARACTERS]


def dataset_card_contents(run: RunDir, stats: dict[str, Any], prose: dict[str, Any]) -> list[str]:
    """What the dataset card (cards/dataset_card.md.j2, rendered from the same run) holds: never a section it lacks."""
    columns = pd.read_parquet(run.split("train")).columns
    source_column = next((name for name in SOURCE_COLUMNS if name in columns), None)
    return [
        "the label distribution",
        *([f"rows per {source_column}"] if source_column else []),
        *(["the labelling"] if prose.get("labelling") or stats.get("labelling") else []),
    ]


def changed_settings(training: TrainingConfig) -> list[str]:
    defaults = TrainingConfig()
    return [item.name for item in dataclasses.fields(TrainingConfig) if getattr(training, item.name) != getattr(defaults, item.name)]


def model_facts(run: RunDir) -> dict[str, Any]:
    model_config = run.read_json(run.model / "config.json")
    return {
        "architecture": (model_config.get("architectures") or ["?"])[0],
        "model_type": model_config.get("model_type"),
        "layers": model_config.get("num_hidden_layers"),
        "hidden_size": model_config.get("hidden_size"),
        "max_position_embeddings": model_config.get("max_position_embeddings"),
    }


def hardware(environment: dict[str, Any]) -> str:
    """"1 × NVIDIA H100 80GB HBM3", "2 CPU cores (x86_64), no GPU" or, trained on fewer threads, "1 of 2 CPU cores (x86_64), no GPU"."""
    gpus = environment.get("gpus") or []
    if gpus:
        names = sorted(set(gpus))
        return ", ".join(f"{gpus.count(name)} × {name}" for name in names)
    threads, cores = environment.get("torch_threads"), environment.get("cpu_count")
    used = f"{threads} of {cores}" if threads and cores and threads < cores else f"{cores or threads}"
    return f"{used} CPU cores ({environment.get('cpu') or 'unknown CPU'}), no GPU"


def main_confusions(report: dict[str, Any]) -> list[str]:
    """One sentence per main confusion: "25% of Opinion texts (3 of 12) are predicted Expressive"."""
    names, matrix = report["label_names"], report["confusion_matrix"]
    found = []
    for row, true_label in enumerate(names):
        total = sum(matrix[row])
        for column, predicted in enumerate(names):
            count = matrix[row][column]
            if column != row and total and count >= 2 and count / total >= CONFUSION_SHARE:
                found.append((count / total, count, total, true_label, predicted))
    found.sort(key=lambda item: (-item[0], -item[1]))
    return [
        f"{share:.0%} of {true_label} texts ({count} of {total}) are predicted {predicted}."
        for share, count, total, true_label, predicted in found[:MAIN_CONFUSIONS]
    ]


def train_examples(run: RunDir, label_names: list[str]) -> list[tuple[str, str]]:
    """A few training texts per label (seeded sample), as (label, text) rows."""
    train = pd.read_parquet(run.split("train"), columns=["text", "label"])
    rows = []
    for label in label_names:
        texts = train[train.label == label].text
        rows += [(label, table_cell(text)) for text in texts.sample(n=min(TRAIN_EXAMPLES_PER_LABEL, len(texts)), random_state=0)]
    return rows


def read_report_csv(run: RunDir, name: str) -> pd.DataFrame | None:
    """A CSV of report/ (None when absent or empty: no errors, nothing flagged)."""
    path = run.report / name
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None


def misclassified_examples(run: RunDir, report: dict[str, Any], noisy_texts: set[str]) -> list[dict[str, Any]]:
    """The most confident errors on the test split (report/misclassified.csv, already sorted), each marked when its
    row is flagged as likely mislabelled (report/label_issues.csv)."""
    errors = read_report_csv(run, report["files"]["misclassified"])
    if errors is None:
        return []
    return [
        {
            "text": table_cell(row.text), "label": row.label, "predicted": row.predicted, "confidence": float(row.confidence),
            "likely_label_noise": str(row.text) in noisy_texts,
        }
        for row in errors.head(MISCLASSIFIED_IN_CARD).itertuples()
    ]


def label_noise_texts(run: RunDir, report: dict[str, Any]) -> set[str]:
    flagged = read_report_csv(run, report["files"]["label_issues"])
    return set() if flagged is None else flagged_texts(flagged, "test")


@dataclass(frozen=True)
class SelectionRow:
    name: str
    base_model: str
    accuracy: float
    f1_macro: float
    f1_weighted: float
    this_model_gain: float | None  # this model's F1 macro over this row's, minus 1
    p_value: float | None  # paired bootstrap between this row and the best run
    is_this_model: bool


@dataclass(frozen=True)
class ModelCardContext:
    """Everything model_card.md.j2 may use; rendered with StrictUndefined, so a missing name is an error."""

    model_name: str
    model_id: str | None
    base_model: str
    base_model_is_hub_id: bool
    links: Links
    language: list[str]
    license: str
    prose: dict[str, Any]  # every MODEL_PROSE_KEYS key; None when not provided (its section is left out)
    label_names: list[str]
    positive_label: str | None
    headline: list[HeadlineRow]  # metrics with a 95% interval
    unbounded: list[HeadlineRow]  # metrics scored without an interval (runs evaluated before they had one)
    warnings: list[str]
    majority: MajorityVerdict
    same_predictions: int | None  # test rows where the baseline predicts the model's label
    label_noise: dict[str, Any]
    test_rows: int
    test_rows_sampled_from: int | None  # evaluate.sample_size: test_rows is a seeded sample of this many
    test_sample_seed: int | None
    test_loss: float | None
    validation_loss: float | None
    interval_resamples: int | None
    verdicts: list[BaselineVerdict]  # the task's metric first (binary F1 with a positive label), then F1 (macro)
    evaluated_rows: int  # test rows the report scored: fewer than test_rows when evaluation was subsampled
    report: dict[str, Any]
    per_class: list[tuple[str, dict[str, Any]]]
    confusions: list[str]
    ece: float | None
    examples: list[tuple[str, str]]
    misclassified: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None
    log_history: list[dict[str, Any]]
    trials: list[dict[str, Any]] | None
    hp_search_pruner: str
    hp_search_metric: str
    stats: dict[str, Any]
    splits: list[str]
    command: str
    git_commit: str | None
    hardware: str
    training_time: str | None
    libraries: list[tuple[str, str]]
    python: str
    changed_settings: list[str]
    hyperparameters: list[tuple[str, Any]]  # the key settings' values, as Trainer's and SetFit's cards list them
    task_metric: str  # metrics.json key of the task's metric (hubtools.metrics.task_metric): the card leads with it
    task_metric_name: str  # its name for people: "F1 (irony)"
    snippet_text: str  # the text the usage snippet classifies: a widget example, else a test text
    dataset_card_has: list[str]  # what the published dataset card holds beyond its splits
    config_yaml: str
    max_length: int
    facts: dict[str, Any]
    widget_examples: list[str]
    citation: str | None
    model_selection: list[SelectionRow]
    selection_test_rows: int | None

    def variables(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}


def model_selection_rows(run: RunDir) -> tuple[list[SelectionRow], int | None]:
    """The "Model selection" table from RUN/model_selection.json (`hubtools card --compare` writes it)."""
    if not run.model_selection.is_file():
        return [], None
    comparison = run.read_json(run.model_selection)  # hubtools.compare.Comparison.as_dict()
    runs = comparison["runs"]
    this = next((scores for scores in runs if Path(scores["path"]).resolve() == run.root.resolve()), None)
    if this is None:
        raise CardError(f"{run.model_selection}: does not include this run; re-run `hubtools card --run {run.root} --compare ...`")
    rows = []
    for scores in runs:
        other = scores["metrics"]["f1_macro"]
        rows.append(
            SelectionRow(
                name=scores["name"], base_model=hide_local_folders(scores["base_model"]), accuracy=scores["metrics"]["accuracy"],
                f1_macro=other, f1_weighted=scores["metrics"]["f1_weighted"],
                this_model_gain=this["metrics"]["f1_macro"] / other - 1 if scores is not this and other > 0 else None,
                p_value=(scores.get("vs_best") or this.get("vs_best") or {}).get("p_value") if scores is not this else None,
                is_this_model=scores is this,
            )
        )
    return rows, comparison["test_rows"]


def model_card_context(run: RunDir, config: RunConfig, links: Links, prose: Prose) -> ModelCardContext:
    metrics = run.read_json(run.metrics)
    environment = shareable_environment(run.read_json(run.environment))
    stats = shareable_stats(run.read_json(run.dataset_stats))
    report = run.read_json(run.report / "metrics.json")
    positive_label = report.get("positive_label")
    training = environment.get("training") or {}
    checkpoint = read_optional_json(run, run.checkpoint_selection)
    log_history = read_optional_json(run, run.log_history) or []
    selection, selection_rows = model_selection_rows(run)
    prose_values = prose_for_model_card(prose)
    rows = headline_rows(metrics, positive_label)
    majority = majority_verdict(report, metrics["test"])
    task_key = task_metric(report["label_names"], positive_label)
    return ModelCardContext(
        model_name=links.model_repo_id.split("/")[-1] if links.model_repo_id else run.root.name,
        model_id=links.model_repo_id,
        base_model=config.model if is_hub_id(config.model) else hide_local_folders(config.model),
        base_model_is_hub_id=is_hub_id(config.model),
        links=links,
        language=list(config.card.language),
        license=config.card.license,
        prose=prose_values,
        label_names=stats["label_names"],
        positive_label=positive_label,
        headline=[row for row in rows if row.low is not None],
        unbounded=[row for row in rows if row.low is None],
        warnings=card_warnings(run, metrics, report, majority, task_key, RunRecord(stats, checkpoint, log_history, environment)),
        majority=majority,
        same_predictions=report.get("baseline", {}).get("same_predictions"),
        label_noise=report["label_noise"],
        test_rows=metrics["test"]["rows"],
        test_rows_sampled_from=metrics["test"].get("sampled_from"),
        test_sample_seed=metrics["test"].get("sample_seed"),
        test_loss=metrics["test"].get("loss"),
        validation_loss=metrics.get("validation", {}).get("loss"),
        interval_resamples=(metrics["test"].get("interval_method") or {}).get("resamples"),
        verdicts=baseline_verdicts(report),
        evaluated_rows=report["rows"],
        report=report,
        per_class=list(report["per_class"].items()),
        confusions=main_confusions(report),
        ece=report.get("ece"),
        examples=train_examples(run, stats["label_names"]),
        misclassified=misclassified_examples(run, report, label_noise_texts(run, report)),
        checkpoint=checkpoint,
        log_history=log_history,
        trials=read_optional_json(run, run.trials),
        hp_search_pruner=config.hp_search.pruner,
        hp_search_metric=config.hp_search.objective_metric(config.training),
        stats=stats,
        splits=[split for split in SPLITS if split in stats["splits"]],
        command=" ".join(environment.get("command", [])),
        git_commit=environment.get("git_commit"),
        hardware=hardware(environment),
        training_time=format_duration(training["train_runtime_s"]) if training.get("train_runtime_s") is not None else None,
        libraries=[(name, version) for name, version in environment.get("libraries", {}).items() if version],
        python=environment.get("python", "?"),
        changed_settings=changed_settings(config.training),
        hyperparameters=key_hyperparameters(config, checkpoint),
        task_metric=task_key,
        task_metric_name=shown_metric(task_key, positive_label),
        snippet_text=(config.card.widget_examples or [example_test_text(run)])[0],
        dataset_card_has=dataset_card_contents(run, stats, prose_values),
        config_yaml=yaml.safe_dump(published_config(config, report["label_names"]), sort_keys=False).strip(),
        max_length=config.training.max_length,
        facts=model_facts(run),
        widget_examples=list(config.card.widget_examples),
        citation=prose_values["citation"] or config.card.citation or base_model_citation(config.model),
        model_selection=selection,
        selection_test_rows=selection_rows,
    )
