"""Model and dataset cards from `cards/*.md.j2`, rendered in one StrictUndefined Jinja environment.

    render_model_card(run_dir, *, model_repo_id, dataset_repo_id, space_repo_id, endpoint) -> CardFiles
    render_dataset_card(source_dir, info, *, dataset_repo_id, model_repo_id, endpoint) -> CardFiles
    write_model_card(run_dir, out_dir=None, ...) / write_dataset_repo(source_dir, out_dir=None, ...) -> README path

Rendering reads and returns the card folder in memory (CardFiles) and writes nothing; the `write_*`
functions (used by `hubtools card`, `publish` and `dataset build`) run `hubtools evaluate` when the report
is missing, write the dataset's Parquet files, and write the card folder.

Every number comes from the run directory: metrics.json (headline results and model-index),
report/metrics.json (per-class, confusion matrix, baseline), log_history.json, dataset_stats.json,
environment.json and hp_search/trials.json.
Text only a person can write comes from the prose YAML named by `card.prose` (docs/reporting.md);
a section without it says so instead of inventing text.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hubtools.config import RunConfig, TrainingConfig, load_config, read_yaml_mapping, shareable_config_dict
from hubtools.errors import HubtoolsError, one_line
from hubtools.card.facts import (
    CARD_METRICS,
    BaselineVerdict,
    HeadlineRow,
    MajorityVerdict,
    baseline_verdicts,
    card_metric_keys,
    headline_rows,
    majority_verdict,
)
from hubtools.card.warnings import RunRecord, card_warnings, shown_metric
from hubtools.resources import cards_dir
from hubtools.rundir import SPLITS, RunDir, write_json_atomic

DEFAULT_ENDPOINT = "https://huggingface.co"
PROSE_KEYS = (
    "description", "intended_uses", "limitations", "label_definitions", "data_description", "labelling", "dataset_limitations",
    "citation", "model_out_of_scope_use", "model_card_contact",
)
# Dataset card only: sections of huggingface_hub's datasetcard_template.md, and the dataset's own metadata.
DATASET_PROSE_KEYS = (
    "direct_use", "out_of_scope_use", "curation_rationale", "source_data_producers", "annotators",
    "personal_and_sensitive_information", "dataset_recommendations", "dataset_card_authors", "dataset_card_contact",
    "dataset_license", "dataset_tags", "annotations_creators", "language_creators", "source_datasets",
)
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
SOURCE_COLUMNS = ("source", "platform")
DATE_COLUMNS = ("date", "created_at", "timestamp")
HUB_MODEL_KEYS = frozenset(
    {"language", "license", "license_name", "license_link", "library_name", "tags", "datasets", "metrics", "base_model",
     "pipeline_tag", "widget", "model-index", "inference", "thumbnail"}
)
HUB_DATASET_KEYS = frozenset(
    {"language", "license", "pretty_name", "size_categories", "task_categories", "task_ids", "annotations_creators",
     "language_creators", "multilinguality", "source_datasets", "paperswithcode_id", "configs", "dataset_info", "tags",
     "train-eval-index"}
)


class CardError(HubtoolsError):
    """A card that cannot be rendered from what the run directory holds."""


@dataclass
class Links:
    """Hub addresses known at publish time; each may be missing when a card is rendered for review."""

    model_repo_id: str | None = None
    dataset_repo_id: str | None = None
    space_repo_id: str | None = None
    endpoint: str = DEFAULT_ENDPOINT
    dataset_revision: str | None = None  # the dataset repo's commit, when published together

    def __post_init__(self) -> None:
        self.endpoint = (self.endpoint or DEFAULT_ENDPOINT).rstrip("/")

    # Card links are relative to the Hub that serves the card: right on huggingface.co and on any other Hub,
    # whatever address (and port) it runs on.
    @property
    def model_url(self) -> str | None:
        return f"/{self.model_repo_id}" if self.model_repo_id else None

    @property
    def dataset_url(self) -> str | None:
        return f"/datasets/{self.dataset_repo_id}" if self.dataset_repo_id else None

    @property
    def space_url(self) -> str | None:
        return f"/spaces/{self.space_repo_id}" if self.space_repo_id else None

    @property
    def custom_endpoint(self) -> bool:
        return self.endpoint != DEFAULT_ENDPOINT


@dataclass
class Prose:
    """The human-written parts of a card; `missing` tells the reader where to add what is absent."""

    values: dict[str, Any] = field(default_factory=dict)
    source: str = "card.prose"

    def missing(self, key: str) -> str:
        return f"_Not provided: add `{key}` to {self.source}._"


# ---- shared inputs ----------------------------------------------------------------------------


def load_prose(config: RunConfig, run: RunDir, override: str | Path | None = None) -> Prose:
    """Read the prose YAML: `override`, else `card.prose` (as resolved by load_config), else a copy in the run folder."""
    named = override or config.card.prose
    if not named:
        return Prose(source="a card prose YAML (`card.prose` in the config, or `--prose`; see docs/reporting.md)")
    candidates = [Path(named), run.root / named, run.root / Path(named).name]
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        raise CardError(f"{named}: card prose file not found (card.prose in {run.config}); create it (see docs/reporting.md) or pass --prose")
    valid_keys = PROSE_KEYS + DATASET_PROSE_KEYS
    values = read_yaml_mapping(path, CardError, f"keys ({', '.join(valid_keys)})")
    unknown = sorted(set(values) - set(valid_keys))
    if unknown:
        raise CardError(f"{path}: unknown key '{unknown[0]}'; valid keys are {', '.join(valid_keys)}")
    return Prose(values=values, source=path.name)


def read_optional_json(run: RunDir, path: Path) -> Any:
    return run.read_json(path) if path.is_file() else None


def is_hub_id(name: str) -> bool:
    """True for `org/name` style ids (what `base_model` must hold); False for local folders."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if Path(name).exists() or name.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


@dataclass
class CardFiles:
    """A rendered card folder, in memory: README.md's text and the files beside it (path in the folder -> bytes).

    Rendering builds one and touches no file; `write` puts it in a folder (the caller decides where and when).
    `absent`: paths a stale earlier render may have left that this one has no content for (removed on write)."""

    card_class: Any  # ModelCard or DatasetCard: how README.md is read back for validation
    readme: str
    files: dict[str, bytes] = field(default_factory=dict)
    absent: tuple[str, ...] = ()

    def write(self, out_dir: Path, overwrite: bool) -> Path:
        """Write README.md (validated offline) and the files into `out_dir`; return the README's path.

        Everything is written and validated in a folder beside `out_dir` first, then renamed into place file by
        file, README.md last: a failed or interrupted render leaves the previous card as it was. Other files in
        `out_dir` (the folder may be a dataset's source folder, or hold the author's additions) are left alone."""
        import os
        import shutil

        from hubtools.atomic_folder import staging_folder

        readme = out_dir / "README.md"
        if readme.exists() and not overwrite:
            raise CardError(f"{readme}: a card already exists; pass --overwrite to replace it or --out to write elsewhere")
        staged = staging_folder(out_dir)
        try:
            self.card_class(self.readme).save(staged / "README.md")
            try:
                validate_card(staged / "README.md", self.card_class)
            except CardError as error:
                raise CardError(f"{readme}: not replaced, the new render is invalid ({one_line(error)})") from error
            for path, content in self.files.items():
                (staged / path).parent.mkdir(parents=True, exist_ok=True)
                (staged / path).write_bytes(content)
            for path in [*self.files, "README.md"]:  # the README last: it never links a file not yet in place
                (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / path, out_dir / path)
            for path in self.absent:
                (out_dir / path).unlink(missing_ok=True)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return readme


def png_bytes(draw: Any, *arguments: Any) -> bytes:
    """A plot function's PNG (`draw(*arguments, file)` saves the figure into `file`), in memory."""
    import io

    buffer = io.BytesIO()
    draw(*arguments, buffer)
    return buffer.getvalue()


def validate_card(readme: Path, card_class: Any) -> None:
    """Offline check: the front matter parses back (model-index included) and uses only keys the Hub knows."""
    try:
        card = card_class.load(readme)
    except ValueError as error:
        raise CardError(f"{readme}: metadata does not parse back ({one_line(error)})") from error
    accepted = HUB_MODEL_KEYS if card.repo_type == "model" else HUB_DATASET_KEYS
    unknown = sorted(set(card.data.to_dict()) - accepted)
    if unknown:
        raise CardError(f"{readme}: metadata key '{unknown[0]}' is not one the Hub reads; remove it from the template")


# ---- model card -------------------------------------------------------------------------------

CARD_DECIMALS = 4  # metadata values (model-index, .eval_results) are rounded; metrics.json keeps full precision
MODEL_PROSE_KEYS = (
    "description", "intended_uses", "model_out_of_scope_use", "limitations", "label_definitions", "data_description", "labelling",
    "citation", "model_card_contact",
)
DEFAULTED_PROSE = ("model_out_of_scope_use", "model_card_contact")  # template sections kept, with a plain default, when missing
TRAIN_EXAMPLES_PER_LABEL = 2
MISCLASSIFIED_IN_CARD = 5
CONFUSION_SHARE = 0.10  # a confusion is "main" when at least this share of a class goes to one other class
MAIN_CONFUSIONS = 3
EXAMPLE_CHARACTERS = 160
MODEL_SELECTION_PLOT = "model_selection.png"
BENCHMARK_FILE = "eval.yaml"  # a dataset repo holding it declares itself a benchmark (task ids for .eval_results)
EVAL_RESULTS_FILE = ".eval_results/hubtools.yaml"  # in the card folder: this model's entries for a benchmark's tasks


def metric_key(result: Any) -> str:
    """The metrics.json key of a model-index EvalResult: accuracy, f1_macro, f1 (binary), ..."""
    average = (result.metric_args or {}).get("average")
    return result.metric_type if average in (None, "binary") else f"{result.metric_type}_{average}"


def eval_results(test: dict[str, Any], links: Links, dataset_name: str, positive_label: str | None) -> list[Any]:
    """model-index: one EvalResult per reported metric on the test split (validation chose the checkpoint, so it
    stays in the card's body), rounded to CARD_DECIMALS."""
    from huggingface_hub import EvalResult

    from hubtools.metrics import metric_name

    return [
        EvalResult(
            task_type="text-classification",
            task_name="Text Classification",
            dataset_type=links.dataset_repo_id or "custom",
            dataset_name=dataset_name,
            dataset_split="test",
            dataset_revision=links.dataset_revision,
            metric_type=CARD_METRICS[key][0],
            metric_name=f"Test {metric_name(key, positive_label)}",
            metric_args={"average": CARD_METRICS[key][1]} if CARD_METRICS[key][1] else None,
            metric_value=round(float(test[key]), CARD_DECIMALS),
        )
        for key in card_metric_keys(positive_label)
        if key in test
    ]


def eval_result_entries(test: dict[str, Any], links: Links, tasks: list[dict[str, Any]], date: str | None) -> list[Any]:
    """`.eval_results/*.yaml` entries: only for the tasks a benchmark dataset declares in its eval.yaml."""
    from huggingface_hub import EvalResultEntry

    return [
        EvalResultEntry(
            dataset_id=links.dataset_repo_id,
            task_id=str(task["id"]),
            value=round(float(test[task["metric"]]), CARD_DECIMALS),
            dataset_revision=links.dataset_revision,
            date=date,
            source_url=f"{links.endpoint}/{links.model_repo_id}" if links.model_repo_id else None,  # metadata: an absolute URL
            source_name="hubtools evaluate" if links.model_repo_id else None,
            notes=f"{task.get('split', 'test')} split, {test.get('rows', '?')} rows, {task['metric']}",
        )
        for task in tasks
        if task.get("metric") in test and task.get("split", "test") == "test"
    ]


def benchmark_tasks(links: Links, token: str | None = None) -> list[dict[str, Any]]:
    """Task ids of the dataset repo's eval.yaml (`hubtools dataset build --benchmark` writes one).

    [] only on the Hub's definite answer that there is none: the repo has no eval.yaml, or no such repo is visible
    to the token (not yet published). Any other failure raises (HubUnreachableError after the retries; CardError
    for a gated repo, a missing revision, another HTTP error or a broken file), so a card is never rendered
    without the `.eval_results` it should have."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError, RemoteEntryNotFoundError, RepositoryNotFoundError

    from hubtools.hubclient import with_retries

    if not links.dataset_repo_id:
        return []
    where = f"{BENCHMARK_FILE} of dataset repo {links.dataset_repo_id} at {links.endpoint}"
    try:
        with tempfile.TemporaryDirectory(prefix="hubtools-eval-yaml-") as cache:  # the Hub's answer now, never a cached copy
            path = with_retries(
                lambda: hf_hub_download(
                    links.dataset_repo_id, BENCHMARK_FILE, repo_type="dataset", revision=links.dataset_revision,
                    endpoint=links.endpoint, token=token, cache_dir=cache,
                ),
                f"reading {where}, which decides the card's .eval_results (the card was not written)",
                links.endpoint,
            )
            tasks = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("tasks") or []
    except RemoteEntryNotFoundError:
        return []
    except RepositoryNotFoundError as error:
        if isinstance(error, GatedRepoError):
            raise CardError(f"{where}: the repo is gated; use a token with access (whether it is a benchmark decides .eval_results)") from error
        return []
    except (OSError, ValueError, yaml.YAMLError) as error:  # a Hub that cannot be reached: HubUnreachableError, as is
        raise CardError(
            f"{where}: could not be read ({one_line(error)}); whether the dataset is a benchmark decides the card's .eval_results, "
            "so the card was not written: check the endpoint and retry"
        ) from error
    return [task for task in tasks if isinstance(task, dict) and task.get("id") and task.get("metric")]


BENCHMARK_TASKS = ({"id": "f1_macro", "split": "test", "metric": "f1_macro"}, {"id": "accuracy", "split": "test", "metric": "accuracy"})


def write_benchmark_declaration(dataset_dir: Path) -> Path:
    """eval.yaml: declares a dataset a benchmark, so models scored on its test split publish `.eval_results` for these tasks."""
    path = Path(dataset_dir) / BENCHMARK_FILE
    header = "# hubtools benchmark: models evaluated on the test split publish .eval_results entries for these task ids\n"
    path.write_text(header + yaml.safe_dump({"tasks": list(BENCHMARK_TASKS)}, sort_keys=False), encoding="utf-8")
    return path


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


TRAINING_CONFIG_FILE = "training_config.yaml"  # the shareable config, published next to the card
LOCAL_FOLDERS = re.compile(r"(?<![\w.:/])/(?:[^\s/()'\"]+/)+")


def hide_local_folders(text: str) -> str:
    """`/home/me/data/comments.csv (train split)` -> `comments.csv (train split)`: local folders mean nothing on the Hub."""
    return LOCAL_FOLDERS.sub("", text)


def shareable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    splits = {name: {**split, "source": hide_local_folders(str(split.get("source", "")))} for name, split in stats["splits"].items()}
    return {**stats, "splits": splits}


def shareable_environment(environment: dict[str, Any]) -> dict[str, Any]:
    return {**environment, "command": [hide_local_folders(part) for part in environment.get("command", [])]}


def table_cell(text: Any, limit: int = EXAMPLE_CHARACTERS) -> str:
    """One line of text safe inside a markdown table cell, cut at `limit` characters."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat.replace("\\", "\\\\").replace("|", "\\|")


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
    from hubtools.label_noise import flagged_texts

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
    from hubtools.compare import comparison_from_dict

    if not run.model_selection.is_file():
        return [], None
    comparison = comparison_from_dict(run.read_json(run.model_selection))
    this = next((scores for scores in comparison.runs if Path(scores.path).resolve() == run.root.resolve()), None)
    if this is None:
        raise CardError(f"{run.model_selection}: does not include this run; re-run `hubtools card --run {run.root} --compare ...`")
    rows = []
    for scores in comparison.runs:
        other = scores.metrics["f1_macro"]
        rows.append(
            SelectionRow(
                name=scores.name, base_model=hide_local_folders(scores.base_model), accuracy=scores.metrics["accuracy"],
                f1_macro=other, f1_weighted=scores.metrics["f1_weighted"],
                this_model_gain=this.metrics["f1_macro"] / other - 1 if scores is not this and other > 0 else None,
                p_value=(scores.vs_best or this.vs_best or {}).get("p_value") if scores is not this else None,
                is_this_model=scores is this,
            )
        )
    return rows, comparison.test_rows


def prose_for_model_card(prose: Prose) -> dict[str, Any]:
    return {key: prose.values.get(key) or None for key in MODEL_PROSE_KEYS}


def model_card_context(run: RunDir, config: RunConfig, links: Links, prose: Prose) -> ModelCardContext:
    from hubtools.citations import base_model_citation
    from hubtools.formatting import format_duration
    from hubtools.metrics import task_metric
    from hubtools.evaluation.write import load_report

    metrics = run.read_json(run.metrics)
    environment = shareable_environment(run.read_json(run.environment))
    stats = shareable_stats(run.read_json(run.dataset_stats))
    report = load_report(run.root)
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


BLANK_LINES = re.compile(r"\n{3,}")


def card_environment():
    """The one Jinja environment of every card (model, dataset, Space README): a name the template uses but the
    context lacks is an error (StrictUndefined), never an empty string."""
    import jinja2

    from hubtools.formatting import format_gain, format_p, format_p_clause

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(gain=format_gain, p=format_p, p_clause=format_p_clause)
    return environment


def render_card_template(template_path: Path, card_data: Any, **variables: Any) -> str:
    """A card template rendered with `card_data` (its YAML front matter) and `variables`, as huggingface_hub's
    `RepoCard.from_template` does but in `card_environment`; a missing name raises a CardError naming the template."""
    import jinja2

    try:
        text = card_environment().from_string(template_path.read_text(encoding="utf-8")).render(card_data=card_data.to_yaml(), **variables)
    except jinja2.UndefinedError as error:
        raise CardError(f"{template_path}: {error} (the template uses a name the card's context does not define); fix the template") from error
    return BLANK_LINES.sub("\n\n", text)  # sections left out leave runs of blank lines behind


def render_model_card(
    run_dir: str | Path,
    *,
    model_repo_id: str | None = None,
    dataset_repo_id: str | None = None,
    space_repo_id: str | None = None,
    endpoint: str | None = None,
    prose: str | Path | None = None,
    dataset_revision: str | None = None,
    token: str | None = None,
) -> CardFiles:
    """README.md, its PNGs, training_config.yaml and (for a benchmark dataset) .eval_results/hubtools.yaml, in memory.

    Reads the run (report/ included: `hubtools evaluate` first) and, for a dataset repo, its eval.yaml on the Hub;
    writes nothing (`write_model_card` does)."""
    from huggingface_hub import ModelCard, ModelCardData, eval_result_entries_to_yaml

    from hubtools.provenance import PROVENANCE_FILE, provenance_json

    run = RunDir(Path(run_dir))
    run.require(run.config, run.model, run.metrics, run.dataset_stats, run.environment, run.report / "metrics.json")
    config = load_config(run.config)
    links = Links(model_repo_id, dataset_repo_id, space_repo_id, endpoint or DEFAULT_ENDPOINT, dataset_revision)
    context = model_card_context(run, config, links, load_prose(config, run, prose))
    test = run.read_json(run.metrics)["test"]
    card_data = ModelCardData(
        model_name=context.model_name,
        base_model=config.model if context.base_model_is_hub_id else None,
        datasets=[dataset_repo_id] if dataset_repo_id else None,
        language=config.card.language,
        license=config.card.license,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["text-classification", "hubtools", *config.card.tags],
        metrics=sorted({metric_type for metric_type, _, _ in CARD_METRICS.values()}),
        eval_results=eval_results(test, links, dataset_repo_id or f"{run.root.name} data", context.positive_label),
        widget=[{"text": text} for text in config.card.widget_examples] or None,
    )
    readme = render_card_template(cards_dir() / "model_card.md.j2", card_data, **context.variables())
    assets = ("confusion_matrix", "reliability", "label_issues")
    files = {name: (run.report / name).read_bytes() for name in (context.report["files"][asset] for asset in assets)}
    files[TRAINING_CONFIG_FILE] = (context.config_yaml + "\n").encode()
    if run.model_selection.is_file():
        from hubtools.compare import comparison_from_dict, plot_comparison

        files[MODEL_SELECTION_PLOT] = png_bytes(plot_comparison, comparison_from_dict(run.read_json(run.model_selection)))
    files[PROVENANCE_FILE] = provenance_json(
        run, shareable_environment(run.read_json(run.environment)), base_model_on_hub=context.base_model_is_hub_id,
        config_file=TRAINING_CONFIG_FILE, dataset_repo_id=dataset_repo_id,
    )
    entries = eval_result_entries(test, links, benchmark_tasks(links, token), run.read_json(run.environment).get("started_at"))
    if entries:
        files[EVAL_RESULTS_FILE] = yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False).encode()
    # no benchmark (or a card re-rendered without it): no stale entries; likewise a model selection no longer kept
    absent = tuple(path for path in (EVAL_RESULTS_FILE, MODEL_SELECTION_PLOT) if path not in files)
    return CardFiles(ModelCard, readme, files, absent)


def write_model_card(
    run_dir: str | Path, out_dir: str | Path | None = None, *, overwrite: bool = True, compare: list[str | Path] | None = None, **links: Any
) -> Path:
    """Evaluate the run when report/ is missing, keep `compare` (other runs on the same test split, for the "Model
    selection" section) in RUN/model_selection.json so later renders (e.g. by `publish`) keep it, then write
    `render_model_card(run_dir, **links)` into `out_dir` (default RUN/card). Returns README.md's path."""
    from hubtools.evaluation import ensure_report

    run = RunDir(Path(run_dir))
    run.require(run.config)
    ensure_report(run, load_config(run.config))
    if compare:
        from hubtools.compare import compare_runs

        write_json_atomic(run.model_selection, compare_runs([run.root, *compare]).as_dict())
    return render_model_card(run.root, **links).write(Path(out_dir) if out_dir else run.card, overwrite)


def set_dataset_revision(card_dir: Path, revision: str) -> list[Path]:
    """Pin the card's results to the dataset commit they were scored on (publish: after the dataset commit).
    Returns the files it rewrote (their hashes are stale)."""
    from huggingface_hub import ModelCard, eval_result_entries_to_yaml, parse_eval_result_entries

    readme = card_dir / "README.md"
    card = ModelCard.load(readme)
    for result in card.data.eval_results or []:
        result.dataset_revision = revision
    card.save(readme)
    rewritten = [readme]
    entries_file = card_dir / EVAL_RESULTS_FILE
    if entries_file.is_file():
        entries = parse_eval_result_entries(yaml.safe_load(entries_file.read_text(encoding="utf-8")))
        for entry in entries:
            entry.dataset_revision = revision
        entries_file.write_text(yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False), encoding="utf-8")
        rewritten.append(entries_file)
    return rewritten


PROSE_EXAMPLE = "configs/quickstart.card.yaml"  # a complete card prose file to copy the keys from


def card_gaps(run_dir: str | Path, prose: str | Path | None = None) -> list[str]:
    """What only a person can write and the model card of this run lacks, as one line naming the file to write
    (for `hubtools card` and `publish` to print on stderr); [] when nothing is missing."""
    run = RunDir(Path(run_dir))
    config = load_config(run.config)
    loaded = load_prose(config, run, prose)
    values = prose_for_model_card(loaded)
    from hubtools.citations import base_model_citation

    missing = [key for key in MODEL_PROSE_KEYS if key != "citation" and not values[key]]
    if not (values["citation"] or config.card.citation or base_model_citation(config.model)):
        missing.append("citation")
    if not missing:
        return []
    where = (
        f"add them to {loaded.source}"
        if config.card.prose or prose
        else "write them in a YAML file (e.g. card.yaml beside the config) and set `card.prose: card.yaml` in the config or pass --prose"
    )
    return [
        f"{len(missing)} card section(s) only you can write are missing ({', '.join(missing)}): {where}; "
        f"{PROSE_EXAMPLE} shows every key (docs/reporting.md, Card prose)"
    ]


# ---- dataset card -----------------------------------------------------------------------------


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "n>1M")


def column_counts(splits: dict[str, pd.DataFrame], candidates: tuple[str, ...]) -> tuple[str | None, dict[str, dict[str, int]]]:
    """Rows per value of the first candidate column present, per split."""
    column = next((name for name in candidates if all(name in frame for frame in splits.values())), None)
    if column is None:
        return None, {}
    values = sorted(set().union(*(frame[column].astype(str) for frame in splits.values())))
    return column, {value: {split: int((frame[column].astype(str) == value).sum()) for split, frame in splits.items()} for value in values}


def date_range(splits: dict[str, pd.DataFrame]) -> dict[str, str] | None:
    column = next((name for name in DATE_COLUMNS if all(name in frame for frame in splits.values())), None)
    if column is None:
        return None
    dates = pd.to_datetime(pd.concat([frame[column] for frame in splits.values()]), errors="coerce", utc=True).dropna()
    if dates.empty:
        return None
    return {"column": column, "first": dates.min().date().isoformat(), "last": dates.max().date().isoformat()}


def plot_label_distribution(stats: dict[str, Any], path: Path) -> None:
    """Grouped bars: rows per label, one bar per split, with counts on the bars."""
    import numpy as np

    from hubtools.plotting import drawable, pyplot

    plt = pyplot()

    labels = stats["label_names"]
    splits = [split for split in SPLITS if split in stats["splits"]]
    positions = np.arange(len(labels))
    width = 0.8 / len(splits)
    figure, axis = plt.subplots(figsize=(max(5.0, 1.2 * len(labels) + 2), 4), constrained_layout=True)
    for offset, split in enumerate(splits):
        counts = [stats["splits"][split]["labels"].get(label, 0) for label in labels]
        bars = axis.bar(positions + offset * width - 0.4 + width / 2, counts, width, label=split)
        axis.bar_label(bars, fontsize=8)
    axis.set(xticks=positions, xlabel="Label", ylabel="Rows", title="Label distribution per split")
    axis.set_xticklabels([drawable(label) for label in labels], rotation=30, ha="right")
    axis.legend()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def dataset_card_settings(source: RunDir) -> tuple[RunConfig | None, dict[str, Any]]:
    """A run directory has config.yaml; a built dataset folder has its build settings in dataset_stats.json."""
    config = load_config(source.config) if source.config.is_file() else None
    return config, source.read_json(source.dataset_stats)


def format_number(value: Any) -> str:
    """Counts with thousands separators, other numbers with one decimal: `127.1`, never `127.05000000000001`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def source_datasets(config: RunConfig | None, prose: dict[str, Any]) -> list[str]:
    """`original` unless the card YAML says otherwise or the run trained on a Hub dataset (`extended|ID`)."""
    if prose.get("source_datasets"):
        return list(prose["source_datasets"])
    if config and config.data.hub_id:
        return [f"extended|{config.data.hub_id}"]
    return ["original"]


def dataset_card_inputs(
    source: RunDir, prose: str | Path | None, license: str | None
) -> tuple[RunConfig | None, dict[str, Any], Prose, str]:
    """The settings, shareable statistics, prose and license a dataset card is rendered from."""
    config, stats = dataset_card_settings(source)
    built = stats.get("build", {})
    loaded = load_prose(config, source, prose) if config else load_prose(RunConfig(), source, prose or built.get("prose"))
    license = license or loaded.values.get("dataset_license") or built.get("license") or "other"
    return config, shareable_stats(stats), loaded, license


def dataset_card_gaps(source_dir: str | Path, prose: str | Path | None = None, license: str | None = None) -> list[str]:
    """What the dataset card lacks that only a person can add, as one line naming the file to write (for `dataset
    build` and `publish` to print); [] when nothing is missing."""
    _, _, loaded, license = dataset_card_inputs(RunDir(Path(source_dir)), prose, license)
    values = loaded.values
    missing = [
        *(["dataset_license (the card says `other`; or pass --license)"] if license == "other" else []),
        *([] if values.get("direct_use") or values.get("out_of_scope_use") else ["direct_use / out_of_scope_use (no Uses section)"]),
        *([] if values.get("dataset_limitations") else ["dataset_limitations (no Bias, Risks, and Limitations section)"]),
        *([] if values.get("language_creators") else ["language_creators (the metadata says `found`: texts collected as people wrote them)"]),
    ]
    if not missing:
        return []
    return [f"the dataset card lacks {'; '.join(missing)}: add them to {loaded.source}; {PROSE_EXAMPLE} shows every key"]


def render_dataset_card(
    source_dir: str | Path,
    info: Any,
    *,
    dataset_repo_id: str | None = None,
    model_repo_id: str | None = None,
    endpoint: str | None = None,
    prose: str | Path | None = None,
    license: str | None = None,
    language: list[str] | None = None,
) -> CardFiles:
    """The dataset card of a run's data/ splits or a `hubtools dataset build` folder, in memory: README.md,
    label_distribution.png and dataset_stats.json (local paths removed). `info`: the DatasetInfo of the Parquet
    files the card describes (`dataset_repo.write_hub_splits` writes them and returns it). Writes nothing."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from hubtools.dataset_repo import dataset_info_yaml, label_order, read_named_splits

    source = RunDir(Path(source_dir))
    config, stats, prose_values, license = dataset_card_inputs(source, prose, license)
    splits = read_named_splits(source)
    card_prose = prose_values.values
    links = Links(model_repo_id, dataset_repo_id, None, endpoint or DEFAULT_ENDPOINT)
    language = language or (config.card.language if config else stats.get("build", {}).get("language")) or ["en"]
    label_names = label_order(source, stats["label_names"])
    rows = sum(stats["splits"][split]["rows"] for split in SPLITS)
    card_data = DatasetCardData(
        pretty_name=(dataset_repo_id or source.root.name).split("/")[-1],
        license=license,
        language=language,
        task_categories=["text-classification"],
        task_ids=["multi-class-classification"],
        annotations_creators=card_prose.get("annotations_creators"),
        language_creators=card_prose.get("language_creators") or ["found"],
        multilinguality=["monolingual" if len(language) == 1 else "multilingual"],
        source_datasets=source_datasets(config, card_prose),
        size_categories=[size_category(rows)],
        tags=["hubtools", *card_prose.get("dataset_tags", [])],
        configs=[{"config_name": "default", "data_files": [{"split": split, "path": f"data/{split}.parquet"} for split in SPLITS]}],
        dataset_info=dataset_info_yaml(info),
    )
    source_column, source_counts = column_counts(splits, SOURCE_COLUMNS)
    label_noise, label_issues = dataset_label_noise(source)
    context = {
        "name": card_data.pretty_name,
        "links": links,
        "prose": {key: card_prose.get(key) or None for key in PROSE_KEYS + DATASET_PROSE_KEYS},  # every key: absent is None
        "license": license,
        "language": language,
        "label_names": label_names,
        "stats": stats,
        "splits": list(SPLITS),
        "rows": rows,
        "labelling": stats.get("labelling"),
        "source_column": source_column,
        "source_counts": source_counts,
        "date_range": date_range(splits),
        "columns": list(splits["train"].columns),
        "from_run": config is not None,
        "citation": card_prose.get("citation") or (config.card.citation if config else None),
        "number": format_number,
        "label_noise": label_noise,
    }
    readme = render_card_template(cards_dir() / "dataset_card.md.j2", card_data, **context)
    files = {
        "label_distribution.png": png_bytes(plot_label_distribution, stats),
        source.dataset_stats.name: (json.dumps(stats, indent=2, default=str) + "\n").encode(),  # as write_json_atomic
    }
    if label_issues is not None:
        files[label_noise["file"]] = label_issues
    return CardFiles(DatasetCard, readme, files)


def dataset_label_noise(source: RunDir) -> tuple[dict[str, Any] | None, bytes | None]:
    """The label-noise summary and flagged-rows CSV: a built dataset's own (`dataset build`), else a run's report
    (`hubtools evaluate`); (None, None) for a run not yet evaluated."""
    stats = source.read_json(source.dataset_stats)
    if "label_noise" in stats:
        return stats["label_noise"], (source.root / stats["label_noise"]["file"]).read_bytes()
    report = source.report / "metrics.json"
    if not report.is_file() or "label_noise" not in source.read_json(report):
        return None, None
    summary = source.read_json(report)["label_noise"]
    return summary, (source.report / summary["file"]).read_bytes()


def write_dataset_repo(source_dir: str | Path, out_dir: str | Path | None = None, *, overwrite: bool = True, **card: Any) -> Path:
    """The dataset repo's tree in `out_dir` (default: the source folder): data/{split}.parquet (label a ClassLabel in
    the model's id2label order), then `render_dataset_card(source_dir, info, **card)`. Returns README.md's path."""
    from hubtools.dataset_repo import label_order, read_named_splits, write_hub_splits

    source = RunDir(Path(source_dir))
    out = Path(out_dir) if out_dir else source.root
    if (out / "README.md").exists() and not overwrite:
        raise CardError(f"{out / 'README.md'}: a card already exists; pass --overwrite to replace it or --out to write elsewhere")
    label_names = label_order(source, source.read_json(source.dataset_stats)["label_names"])
    info = write_hub_splits(read_named_splits(source), label_names, out / "data")
    files = render_dataset_card(source.root, info, **card)
    if out.resolve() == source.root.resolve():  # a built dataset folder keeps its own statistics
        files.files.pop(source.dataset_stats.name)
    return files.write(out, overwrite=True)
