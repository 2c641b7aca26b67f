"""Model and dataset cards from `cards/*.md.j2`, rendered with huggingface_hub's ModelCard/DatasetCard.

    render_model_card(run_dir, out_dir=None, *, model_repo_id, dataset_repo_id, space_repo_id, endpoint)
    render_dataset_card(source_dir, out_dir=None, *, dataset_repo_id, model_repo_id, endpoint)

Every number comes from the run directory: metrics.json (headline results and model-index),
report/metrics.json (per-class, confusion matrix, baseline; `hubtools evaluate` runs first when it
is missing), log_history.json, dataset_stats.json, environment.json and hp_search/trials.json.
Text only a person can write comes from the prose YAML named by `card.prose` (docs/reporting.md);
a section without it says so instead of inventing text.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hubtools.config import RunConfig, TrainingConfig, load_config, read_yaml_mapping, shareable_config_dict
from hubtools.errors import HubtoolsError, one_line
from hubtools.resources import cards_dir
from hubtools.rundir import SPLITS, RunDir

DEFAULT_ENDPOINT = "https://huggingface.co"
PROSE_KEYS = ("description", "intended_uses", "limitations", "label_definitions", "data_description", "labelling", "dataset_limitations", "citation")
# Metric key in metrics.json -> (model-index metric type, average, pretty name).
CARD_METRICS = {
    "accuracy": ("accuracy", None, "Accuracy"),
    "f1_macro": ("f1", "macro", "F1 (macro)"),
    "f1_weighted": ("f1", "weighted", "F1 (weighted)"),
    "precision_macro": ("precision", "macro", "Precision (macro)"),
    "recall_macro": ("recall", "macro", "Recall (macro)"),
    "precision_weighted": ("precision", "weighted", "Precision (weighted)"),
    "recall_weighted": ("recall", "weighted", "Recall (weighted)"),
    "f1": ("f1", "binary", "F1 (binary)"),
    "precision": ("precision", "binary", "Precision (binary)"),
    "recall": ("recall", "binary", "Recall (binary)"),
}
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
MAX_SLICES = 20  # extra columns with more values than this are not sliced automatically in the card


class CardError(HubtoolsError):
    """A card that cannot be rendered from what the run directory holds."""


@dataclass
class Links:
    """Hub addresses known at publish time; each may be missing when a card is rendered for review."""

    model_repo_id: str | None = None
    dataset_repo_id: str | None = None
    space_repo_id: str | None = None
    endpoint: str = DEFAULT_ENDPOINT

    def __post_init__(self) -> None:
        self.endpoint = (self.endpoint or DEFAULT_ENDPOINT).rstrip("/")

    @property
    def model_url(self) -> str | None:
        return f"{self.endpoint}/{self.model_repo_id}" if self.model_repo_id else None

    @property
    def dataset_url(self) -> str | None:
        return f"{self.endpoint}/datasets/{self.dataset_repo_id}" if self.dataset_repo_id else None

    @property
    def space_url(self) -> str | None:
        return f"{self.endpoint}/spaces/{self.space_repo_id}" if self.space_repo_id else None

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
    values = read_yaml_mapping(path, CardError, f"keys ({', '.join(PROSE_KEYS)})")
    unknown = sorted(set(values) - set(PROSE_KEYS))
    if unknown:
        raise CardError(f"{path}: unknown key '{unknown[0]}'; valid keys are {', '.join(PROSE_KEYS)}")
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


def write_card(card: Any, out_dir: Path, overwrite: bool) -> Path:
    readme = out_dir / "README.md"
    if readme.exists() and not overwrite:
        raise CardError(f"{readme}: a card already exists; pass --overwrite to replace it or --out to write elsewhere")
    out_dir.mkdir(parents=True, exist_ok=True)
    card.save(readme)
    validate_card(readme, type(card))
    return readme


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


def metric_key(result: Any) -> str:
    """The metrics.json key of a model-index EvalResult: accuracy, f1_macro, f1 (binary), ..."""
    average = (result.metric_args or {}).get("average")
    return result.metric_type if average in (None, "binary") else f"{result.metric_type}_{average}"


def eval_results(metrics: dict[str, dict[str, Any]], links: Links, dataset_name: str) -> list[Any]:
    """One EvalResult per reported metric and split, values copied unrounded from metrics.json."""
    from huggingface_hub import EvalResult

    results = []
    for split in ("test", "validation"):
        for key, (metric_type, average, pretty) in CARD_METRICS.items():
            if key in metrics.get(split, {}):
                results.append(
                    EvalResult(
                        task_type="text-classification",
                        task_name="Text Classification",
                        dataset_type=links.dataset_repo_id or "custom",
                        dataset_name=dataset_name,
                        dataset_split=split,
                        metric_type=metric_type,
                        metric_name=f"{split.capitalize()} {pretty}",
                        metric_args={"average": average} if average else None,
                        metric_value=metrics[split][key],
                    )
                )
    return results


def eval_result_entries(metrics: dict[str, dict[str, Any]], links: Links, date: str | None) -> list[Any]:
    """`.eval_results/*.yaml` entries (test split); they need the dataset's Hub id, so none without it."""
    from huggingface_hub import EvalResultEntry

    if not links.dataset_repo_id:
        return []
    return [
        EvalResultEntry(
            dataset_id=links.dataset_repo_id,
            task_id=key,
            value=metrics["test"][key],
            date=date,
            source_url=links.model_url,
            source_name="hubtools evaluate" if links.model_url else None,
            notes=f"test split, {metrics['test'].get('rows', '?')} rows",
        )
        for key in CARD_METRICS
        if key in metrics.get("test", {})
    ]


def hyperparameters(training: TrainingConfig) -> list[dict[str, Any]]:
    """Every training setting with its default; those changed from hubtools' defaults come first."""
    defaults = TrainingConfig()
    rows = [
        {"name": item.name, "value": getattr(training, item.name), "default": getattr(defaults, item.name)}
        for item in dataclasses.fields(TrainingConfig)
    ]
    for row in rows:
        row["changed"] = row["value"] != row["default"]
    return sorted(rows, key=lambda row: not row["changed"])


def model_facts(run: RunDir) -> dict[str, Any]:
    model_config = run.read_json(run.model / "config.json")
    return {
        "architecture": (model_config.get("architectures") or ["?"])[0],
        "model_type": model_config.get("model_type"),
        "layers": model_config.get("num_hidden_layers"),
        "hidden_size": model_config.get("hidden_size"),
        "max_position_embeddings": model_config.get("max_position_embeddings"),
    }


def ensure_report(run: RunDir, config: RunConfig) -> dict[str, Any]:
    """The run's report; `hubtools evaluate` runs first when there is none, sliced by the low-cardinality extra columns."""
    from hubtools.report import evaluate_run, load_report

    if (run.report / "metrics.json").is_file():
        return load_report(run.root)
    test = pd.read_parquet(run.split("test"))
    slice_by = [column for column in config.data.extra_columns if column in test and test[column].nunique() <= MAX_SLICES]
    return evaluate_run(run.root, slice_by=slice_by)


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


def model_card_context(run: RunDir, config: RunConfig, links: Links, prose: Prose) -> dict[str, Any]:
    metrics = run.read_json(run.metrics)
    environment = shareable_environment(run.read_json(run.environment))
    stats = shareable_stats(run.read_json(run.dataset_stats))
    return {
        "model_name": links.model_repo_id.split("/")[-1] if links.model_repo_id else run.root.name,
        "model_id": links.model_repo_id,
        "base_model": config.model,
        "base_model_is_hub_id": is_hub_id(config.model),
        "links": links,
        "prose": prose.values,
        "missing": prose.missing,
        "label_names": stats["label_names"],
        "metrics": metrics,
        "card_metrics": CARD_METRICS,
        "report": ensure_report(run, config),
        "log_history": read_optional_json(run, run.log_history) or [],
        "trials": read_optional_json(run, run.trials),
        "hp_search": config.hp_search,
        "stats": stats,
        "splits": [split for split in SPLITS if split in stats["splits"]],
        "environment": environment,
        "hyperparameters": hyperparameters(config.training),
        "config_yaml": yaml.safe_dump(shareable_config_dict(config), sort_keys=False).strip(),
        "facts": model_facts(run),
        "widget_examples": config.card.widget_examples,
        "citation": prose.values.get("citation") or config.card.citation,
    }


def render_model_card(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    model_repo_id: str | None = None,
    dataset_repo_id: str | None = None,
    space_repo_id: str | None = None,
    endpoint: str | None = None,
    prose: str | Path | None = None,
    overwrite: bool = True,
) -> Path:
    """Write README.md, confusion_matrix.png and .eval_results/ for the run into `out_dir` (default RUN/card)."""
    from huggingface_hub import ModelCard, ModelCardData
    from huggingface_hub import eval_result_entries_to_yaml

    run = RunDir(Path(run_dir))
    run.require(run.config, run.model, run.metrics, run.dataset_stats, run.environment)
    config = load_config(run.config)
    links = Links(model_repo_id, dataset_repo_id, space_repo_id, endpoint or DEFAULT_ENDPOINT)
    context = model_card_context(run, config, links, load_prose(config, run, prose))
    card_data = ModelCardData(
        model_name=context["model_name"],
        base_model=config.model if context["base_model_is_hub_id"] else None,
        datasets=[dataset_repo_id] if dataset_repo_id else None,
        language=config.card.language,
        license=config.card.license,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["text-classification", "hubtools", *config.card.tags],
        metrics=sorted({metric_type for metric_type, _, _ in CARD_METRICS.values()}),
        eval_results=eval_results(context["metrics"], links, dataset_repo_id or f"{run.root.name} data"),
        widget=[{"text": text} for text in config.card.widget_examples] or None,
    )
    card = ModelCard.from_template(card_data, template_path=str(cards_dir() / "model_card.md.j2"), **context)
    out = Path(out_dir) if out_dir else run.card
    readme = write_card(card, out, overwrite)
    shutil.copyfile(run.report / context["report"]["files"]["confusion_matrix"], out / "confusion_matrix.png")
    (out / TRAINING_CONFIG_FILE).write_text(context["config_yaml"] + "\n", encoding="utf-8")
    entries = eval_result_entries(context["metrics"], links, context["environment"].get("started_at"))
    eval_results_file = out / ".eval_results" / "hubtools.yaml"
    if entries:
        eval_results_file.parent.mkdir(exist_ok=True)
        eval_results_file.write_text(yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False), encoding="utf-8")
    else:
        eval_results_file.unlink(missing_ok=True)  # a card re-rendered without a dataset repo must not keep stale entries
    return readme


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

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
    axis.set_xticklabels(labels, rotation=30, ha="right")
    axis.legend()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def dataset_card_settings(source: RunDir) -> tuple[RunConfig | None, dict[str, Any]]:
    """A run directory has config.yaml; a built dataset folder has its build settings in dataset_stats.json."""
    config = load_config(source.config) if source.config.is_file() else None
    return config, source.read_json(source.dataset_stats)


def render_dataset_card(
    source_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    dataset_repo_id: str | None = None,
    model_repo_id: str | None = None,
    endpoint: str | None = None,
    prose: str | Path | None = None,
    license: str | None = None,
    language: list[str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Dataset card for a run's data/ splits or a `hubtools dataset build` folder; writes README.md + label_distribution.png."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from hubtools.data import read_splits

    source = RunDir(Path(source_dir))
    config, stats = dataset_card_settings(source)
    stats = shareable_stats(stats)
    splits = read_splits(source)
    built = stats.get("build", {})
    prose_values = load_prose(config, source, prose) if config else load_prose(RunConfig(), source, prose or built.get("prose"))
    links = Links(model_repo_id, dataset_repo_id, None, endpoint or DEFAULT_ENDPOINT)
    license = license or (config.card.license if config else built.get("license")) or "other"
    language = language or (config.card.language if config else built.get("language")) or ["en"]
    rows = sum(stats["splits"][split]["rows"] for split in SPLITS)
    card_data = DatasetCardData(
        pretty_name=(dataset_repo_id or source.root.name).split("/")[-1],
        license=license,
        language=language,
        task_categories=["text-classification"],
        size_categories=[size_category(rows)],
        tags=["hubtools"],
        configs=[{"config_name": "default", "data_files": [{"split": split, "path": f"data/{split}.parquet"} for split in SPLITS]}],
    )
    source_column, source_counts = column_counts(splits, SOURCE_COLUMNS)
    context = {
        "name": card_data.pretty_name,
        "links": links,
        "prose": prose_values.values,
        "missing": prose_values.missing,
        "stats": stats,
        "splits": list(SPLITS),
        "rows": rows,
        "labelling": stats.get("labelling"),
        "source_column": source_column,
        "source_counts": source_counts,
        "date_range": date_range(splits),
        "columns": list(splits["train"].columns),
        "from_run": config is not None,
        "citation": prose_values.values.get("citation") or (config.card.citation if config else None),
    }
    card = DatasetCard.from_template(card_data, template_path=str(cards_dir() / "dataset_card.md.j2"), **context)
    out = Path(out_dir) if out_dir else source.root
    readme = write_card(card, out, overwrite)
    plot_label_distribution(stats, out / "label_distribution.png")
    return readme
