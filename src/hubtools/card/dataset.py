"""What the dataset card shows beyond the statistics training wrote: size category, rows per source, the dates
covered, the label distribution plot, label noise and the source datasets. Reads the run or dataset folder only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hubtools.config import RunConfig
from hubtools.plotting import drawable, pyplot
from hubtools.rundir import SPLITS, RunDir


SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
SOURCE_COLUMNS = ("source", "platform")
DATE_COLUMNS = ("date", "created_at", "timestamp")


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
