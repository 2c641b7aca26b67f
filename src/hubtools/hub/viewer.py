"""The dataset viewer: the first rows of each split, read from the Parquet files of a commit with pyarrow.

A split is named as the Hub's data-files convention names it: `data/train.parquet`, `data/train-00000-of-00001.parquet`
and `train/0000.parquet` are all `train`. Only the first rows are read; each cell is cut to MAX_CELL_CHARS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from hubtools.hub.store import FileEntry, HubStore

VIEWER_ROWS = 20  # the viewer page
PREVIEW_ROWS = 5  # the dataset page's section
MAX_CELL_CHARS = 300
SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


@dataclass(frozen=True)
class SplitPreview:
    split: str
    path: str
    num_rows: int
    columns: list[str]
    types: list[str]
    rows: list[list[str]]
    error: str | None = None


def split_name(path: str) -> str:
    pure = PurePosixPath(path)
    stem = SHARD_SUFFIX.sub("", pure.stem)
    return pure.parent.name if stem.isdigit() and pure.parent.name else stem


def class_names(schema: pa.Schema) -> dict[str, list[str]]:
    """ClassLabel names per column, from the `datasets` features that `Dataset.to_parquet` stores in the schema."""
    try:
        features = json.loads((schema.metadata or {}).get(b"huggingface", b"{}"))["info"]["features"]
    except (ValueError, KeyError, TypeError):
        return {}
    return {
        column: [str(name) for name in feature["names"]]
        for column, feature in features.items()
        if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" and isinstance(feature.get("names"), list)
    }


def _cell(value: object, names: list[str] | None) -> str:
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        return f"{names[value]} ({value})"
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def _preview(store: HubStore, entry: FileEntry, limit: int) -> SplitPreview:
    split = split_name(entry.path)
    try:
        parquet = pq.ParquetFile(store.blob_path(entry.sha256))
        batch = next(parquet.iter_batches(batch_size=limit), None)
        table = pa.Table.from_batches([batch]) if batch is not None else parquet.schema_arrow.empty_table()
    except (OSError, pa.ArrowException) as exc:
        return SplitPreview(split, entry.path, 0, [], [], [], f"{entry.path} is not a readable Parquet file ({exc})")
    schema = parquet.schema_arrow
    labels = class_names(schema)
    rows = [[_cell(row[name], labels.get(name)) for name in schema.names] for row in table.slice(0, limit).to_pylist()]
    types = [f"class label ({len(labels[name])} classes)" if name in labels else str(t) for name, t in zip(schema.names, schema.types)]
    return SplitPreview(split, entry.path, parquet.metadata.num_rows, list(schema.names), types, rows)


def first_rows(store: HubStore, files: dict[str, FileEntry], limit: int = VIEWER_ROWS) -> list[SplitPreview]:
    """One preview per Parquet file (the first file of each split when a split is sharded), train first."""
    by_split: dict[str, FileEntry] = {}
    for path in sorted(files):
        if path.endswith(".parquet"):
            by_split.setdefault(split_name(path), files[path])
    order = {"train": 0, "validation": 1, "test": 2}
    return [_preview(store, by_split[split], limit) for split in sorted(by_split, key=lambda s: (order.get(s, 3), s))]
