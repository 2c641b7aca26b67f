"""Rendering, pure: the model card and the dataset card (and the Space README, through `render_card_template`)
in one StrictUndefined Jinja environment, from what the run directory holds, returned in memory as CardFiles.

It never evaluates, compares, fetches or writes: `hubtools.card.write_model_card` runs `evaluate`, `--compare` and
reads the dataset's eval.yaml first, into their places in the run directory (hubtools.rundir), and
`hubtools.card.write` puts the returned files in place."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from huggingface_hub import DatasetCard, DatasetCardData, ModelCard, ModelCardData, eval_result_entries_to_yaml

from hubtools.card.context import TRAINING_CONFIG_FILE, model_card_context
from hubtools.card.dataset import (
    SOURCE_COLUMNS, column_counts, dataset_label_noise, date_range, format_number, plot_label_distribution, size_category,
    source_datasets,
)
from hubtools.card.facts import CARD_METRICS, DEFAULT_ENDPOINT, CardError, Links, shareable_environment
from hubtools.card.model_index import EVAL_RESULTS_FILE, eval_result_entries, eval_results, saved_benchmark_tasks
from hubtools.card.prose import DATASET_PROSE_KEYS, PROSE_KEYS, dataset_card_inputs, load_prose
from hubtools.config import load_config
from hubtools.dataset_repo import dataset_info_yaml, label_order, read_named_splits
from hubtools.formatting import format_gain, format_p, format_p_clause
from hubtools.provenance import PROVENANCE_FILE, provenance_json
from hubtools.resources import cards_dir
from hubtools.rundir import SPLITS, RunDir

MODEL_SELECTION_PLOT = "model_selection.png"  # in the card folder: RUN/model_selection.png, as `card --compare` drew it


@dataclass
class CardFiles:
    """A rendered card folder, in memory: README.md's text and the files beside it (path in the folder -> bytes).

    Rendering builds one and touches no file; `hubtools.card.write.write_card_files` puts it in a folder.
    `absent`: paths a stale earlier render may have left that this one has no content for (removed on write)."""

    card_class: Any  # ModelCard or DatasetCard: how README.md is read back for validation
    readme: str
    files: dict[str, bytes] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


def png_bytes(draw: Any, *arguments: Any) -> bytes:
    """A plot function's PNG (`draw(*arguments, file)` saves the figure into `file`), in memory."""
    buffer = io.BytesIO()
    draw(*arguments, buffer)
    return buffer.getvalue()


BLANK_LINES = re.compile(r"\n{3,}")


def card_environment():
    """The one Jinja environment of every card (model, dataset, Space README): a name the template uses but the
    context lacks is an error (StrictUndefined), never an empty string."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(gain=format_gain, p=format_p, p_clause=format_p_clause)
    return environment


def render_card_template(template_path: Path, card_data: Any, **variables: Any) -> str:
    """A card template rendered with `card_data` (its YAML front matter) and `variables`, as huggingface_hub's
    `RepoCard.from_template` does but in `card_environment`; a missing name raises a CardError naming the template."""
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
) -> CardFiles:
    """README.md, its PNGs, training_config.yaml and (for a benchmark dataset) .eval_results/hubtools.yaml, in memory.

    Reads the run only: report/ (`hubtools evaluate`), model_selection.* (`card --compare`) and, for a dataset repo,
    benchmark_tasks.json (its eval.yaml as the Hub answered); `hubtools.card.write_model_card` gathers them first."""
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
        files[MODEL_SELECTION_PLOT] = run.model_selection_plot.read_bytes()
    files[PROVENANCE_FILE] = provenance_json(
        run, shareable_environment(run.read_json(run.environment)), base_model_on_hub=context.base_model_is_hub_id,
        config_file=TRAINING_CONFIG_FILE, dataset_repo_id=dataset_repo_id,
    )
    entries = eval_result_entries(test, links, saved_benchmark_tasks(run, links), run.read_json(run.environment).get("started_at"))
    if entries:
        files[EVAL_RESULTS_FILE] = yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False).encode()
    # no benchmark (or a card re-rendered without it): no stale entries; likewise a model selection no longer kept
    absent = tuple(path for path in (EVAL_RESULTS_FILE, MODEL_SELECTION_PLOT) if path not in files)
    return CardFiles(ModelCard, readme, files, absent)


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
