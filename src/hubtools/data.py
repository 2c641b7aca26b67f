"""Load, validate, split and describe the labelled text a run is trained on.

`prepare_data(config.data)` returns train/validation/test with columns `text`, `label` (the label
*name*) and any `extra_columns`, plus the statistics written to `RUN/dataset_stats.json`. Every
problem with the input is a one-line `DataError` naming the file, column and row (rows are counted
from 1 over data rows, the CSV header excluded).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hubtools.config import DataConfig
from hubtools.errors import InputError, InputFileError, one_line
from hubtools.rundir import SPLITS, RunDir

if TYPE_CHECKING:
    from hubtools.downloads import HubDownloads

logger = logging.getLogger(__name__)

LOADERS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation", "test": "test"}
ROW = "__row__"
WHOLE = "all"  # one source that is split by ratios
JSON_LOADER_LOGGER = "datasets.packaged_modules.json.json"


class DataError(InputError):
    """Input data that cannot be trained on as configured."""


@dataclass
class Source:
    name: str  # file path or hub id[:split], used in error messages
    frame: pd.DataFrame


@dataclass
class PreparedData:
    splits: dict[str, pd.DataFrame]  # train/validation/test: text, label (name), extras
    label_names: list[str]
    stats: dict[str, Any]

    def to_datasets(self):
        from datasets import Dataset, DatasetDict

        return DatasetDict({name: Dataset.from_pandas(frame, preserve_index=False) for name, frame in self.splits.items()})


def prepare_data(config: DataConfig, downloads: HubDownloads | None = None) -> PreparedData:
    """Load, clean, label, split and check the data a config names.

    Args:
        config: the config's `data` section.
        downloads: the Hub a `data.hub_id` dataset comes from; None: the process's HF_ENDPOINT.

    Raises:
        DataError: a file, column, label or split that cannot be used (the message names it and the fix).
        InputFileError: a data file that does not exist.
    """
    sources = load_sources(config, downloads)
    cleaned, dropped = {}, {}
    for key, source in sources.items():
        cleaned[key], dropped[key] = clean_source(source, config)
    label_names = resolve_label_names(cleaned, sources, config)
    for key, frame in cleaned.items():
        frame["label"] = to_label_names(frame, sources[key].name, label_names, config)
    splits, split_sources = split_sources_by_ratio(cleaned, sources, config, label_names)
    check_classes(splits, split_sources, label_names, config, given=[name for name in cleaned if name != WHOLE])
    leakage = find_leakage(splits, remove=config.remove_leakage)
    splits = {name: frame.drop(columns=[ROW]).reset_index(drop=True) for name, frame in splits.items()}
    stats = describe(splits, label_names, dropped, leakage, split_sources)
    return PreparedData(splits=splits, label_names=label_names, stats=stats)


# ---- loading ----------------------------------------------------------------------------------


def load_sources(config: DataConfig, downloads: HubDownloads | None = None) -> dict[str, Source]:
    given = [name for name in ("path", "files", "hub_id") if getattr(config, name)]
    if len(given) != 1:
        raise DataError(f"data: set exactly one of data.path, data.files or data.hub_id (got {given or 'none'})")
    if config.hub_id:
        return load_hub_dataset(config, downloads)
    if config.files:
        return {_split_name(split, "data.files"): load_file(Path(path)) for split, path in config.files.items()}
    path = Path(config.path)
    if path.is_dir():
        return load_folder(path)
    return {WHOLE: load_file(path)}


def load_file(path: Path, columns: Sequence[str] = ()) -> Source:
    """A CSV/JSON(L)/Parquet file as a frame; a missing, empty or malformed file is one line naming it (and the line at
    fault). `columns`, when known, are named in the advice for an empty file."""
    from datasets import load_dataset

    if not path.is_file():
        raise InputFileError(f"{path}: data file not found; check data.path / data.files (relative paths start at the working directory)")
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'; use .csv, .json, .jsonl or .parquet")
    if path.stat().st_size == 0:
        wanted = f"the columns {', '.join(repr(column) for column in columns)}" if columns else "a header (or named fields)"
        raise DataError(f"{path}: the file is empty; pass a {path.suffix} file with {wanted} and labelled rows")
    try:
        with quiet_logger(JSON_LOADER_LOGGER):  # it logs the parse error with a 0-based row; the DataError below says it once
            dataset = load_dataset(loader, data_files=str(path), split="train")
    except Exception as error:  # the datasets loaders raise many types for malformed files
        bad_line = first_invalid_json_line(path) if loader == "json" else None
        if bad_line is not None:
            number, reason = bad_line
            raise DataError(f"{path}: line {number} is not valid JSON ({reason}); fix or remove that line") from error
        raise DataError(f"{path}: could not be read as {loader} ({one_line(error)})") from error
    return Source(name=str(path), frame=named_frame(dataset))


def first_invalid_json_line(path: Path) -> tuple[int, str] | None:
    """(1-based line number, reason) of the first JSON syntax error: per line in a JSON Lines file (its first line is a
    JSON value), else in the file as one JSON document. None when the JSON parses (the loader failed for another reason)."""
    import json

    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    try:
        json.loads(first)
    except json.JSONDecodeError:
        lines = []  # not JSON Lines: one document, checked below
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                return number, error.msg
    if lines:
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return error.lineno, error.msg
    return None


@contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Silence one library logger for the duration of a block."""
    target = logging.getLogger(name)
    previous = target.disabled
    target.disabled = True
    try:
        yield
    finally:
        target.disabled = previous


def read_table(path: Path, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """A labelled file with at least one row and every column of `columns` ((option or setting that names it, column))."""
    path = Path(path)
    if not path.is_file():  # load_file's advice names data.path, the training config's key
        raise InputFileError(f"{path}: file not found; check the path")
    source = load_file(path, [column for _, column in columns])
    if source.frame.empty:
        raise DataError(f"{path}: no rows; pass a file with labelled examples")
    require_columns(source, columns)
    return source.frame


def require_columns(source: Source, columns: Sequence[tuple[str, str]]) -> None:
    """A missing column is one line naming the file, the column, the columns found and the option that names it."""
    for option, column in columns:
        if column not in source.frame.columns:
            found = ", ".join(map(str, source.frame.columns))
            raise DataError(f"{source.name}: column '{column}' not found (columns: {found}); set {option}")


def named_frame(dataset) -> pd.DataFrame:
    """The dataset as a frame, ClassLabel columns as their names (published hubtools datasets store label ids)."""
    from datasets import ClassLabel

    frame = dataset.to_pandas()
    for name, feature in dataset.features.items():
        if isinstance(feature, ClassLabel):
            frame[name] = [feature.int2str(value) if value is not None and value >= 0 else None for value in frame[name]]
    return frame


def load_folder(folder: Path) -> dict[str, Source]:
    found = {}
    for file in sorted(folder.iterdir()):
        split = SPLIT_ALIASES.get(file.stem.lower())
        if split and file.suffix.lower() in LOADERS:
            found[split] = load_file(file)
    if "train" not in found:
        raise DataError(f"{folder}: no train.csv/.jsonl/.parquet found in the folder; name the files train/validation/test or use data.files")
    return found


def load_hub_dataset(config: DataConfig, downloads: HubDownloads | None = None) -> dict[str, Source]:
    """The splits of Hub dataset `data.hub_id` (config `data.hub_config`), from `downloads`' Hub when given (its
    snapshot, loaded from the folder), else through the process's HF_ENDPOINT.

    Raises:
        DataError: the dataset cannot be loaded or has no train split.
    """
    from datasets import load_dataset

    try:
        location = str(downloads.snapshot(config.hub_id, "dataset")) if downloads is not None else config.hub_id
        dataset = load_dataset(location, config.hub_config)
    except Exception as error:  # network, missing repo, bad config name
        raise DataError(f"{config.hub_id}: could not load the Hub dataset ({one_line(error)}); check data.hub_id and HF_ENDPOINT") from error
    sources = {}
    for split, part in dataset.items():
        if split.lower() in SPLIT_ALIASES:
            sources[SPLIT_ALIASES[split.lower()]] = Source(name=f"{config.hub_id}[{split}]", frame=named_frame(part))
    if "train" not in sources:
        raise DataError(f"{config.hub_id}: no 'train' split (found: {', '.join(dataset)}); publish a train split")
    return sources


def _split_name(split: str, where: str) -> str:
    if split.lower() not in SPLIT_ALIASES:
        raise DataError(f"{where}: unknown split '{split}'; use train, validation and test")
    return SPLIT_ALIASES[split.lower()]


# ---- validation -------------------------------------------------------------------------------


def clean_source(source: Source, config: DataConfig) -> tuple[pd.DataFrame, int]:
    """Select the configured columns, check them, and drop empty texts (an error above the threshold)."""
    frame = source.frame
    require_columns(
        source,
        [("data.text_column", config.text_column), ("data.label_column", config.label_column)]
        + [("data.extra_columns", column) for column in config.extra_columns],
    )
    out = pd.DataFrame({ROW: range(1, len(frame) + 1), "text": frame[config.text_column], "label": frame[config.label_column]})
    for column in config.extra_columns:
        out[column] = frame[column].astype("string").fillna("")
    missing_label = out["label"].isna() | (out["label"].astype(str).str.strip() == "")
    if missing_label.any():
        row = int(out.loc[missing_label, ROW].iloc[0])
        raise DataError(f"{source.name}: row {row}, column '{config.label_column}': empty label ({int(missing_label.sum())} such rows); label or remove them")
    empty = out["text"].isna() | (out["text"].astype(str).str.strip() == "")
    if len(out) and empty.mean() > config.max_null_fraction:
        row = int(out.loc[empty, ROW].iloc[0])
        raise DataError(
            f"{source.name}: {int(empty.sum())} of {len(out)} rows have an empty '{config.text_column}' (first at row {row}), "
            f"above data.max_null_fraction={config.max_null_fraction}; clean the file or raise the threshold"
        )
    if empty.any():
        logger.warning("%s: dropped %d rows with an empty '%s'", source.name, int(empty.sum()), config.text_column)
    out = out[~empty].copy()
    out["text"] = out["text"].astype(str)
    return out, int(empty.sum())


def resolve_label_names(frames: dict[str, pd.DataFrame], sources: dict[str, Source], config: DataConfig) -> list[str]:
    if config.label_names:
        return list(config.label_names)
    reference = frames.get("train", frames.get(WHOLE))
    values = reference["label"]
    if pd.api.types.is_integer_dtype(values):
        return [str(value) for value in sorted(values.unique())]
    return sorted(str(value) for value in values.unique())


def to_label_names(frame: pd.DataFrame, source: str, label_names: list[str], config: DataConfig) -> pd.Series:
    """Map integer ids or string labels onto label names; anything else is an unknown label."""
    values = frame["label"]
    if pd.api.types.is_integer_dtype(values) and config.label_names:
        known = {index: name for index, name in enumerate(label_names)}
    else:
        known = {name: name for name in label_names}
        values = values.astype(str)
    unknown = ~values.isin(list(known))
    if unknown.any():
        row = int(frame.loc[unknown, ROW].iloc[0])
        value = values[unknown].tolist()[0]  # a Python value, so the message shows 2, not np.int64(2)
        raise DataError(
            f"{source}: row {row}, column '{config.label_column}': unknown label {value!r} (known: {', '.join(map(str, known))}); "
            "fix the row or list it in data.label_names"
        )
    return values.map(known).astype(str)


def split_sources_by_ratio(
    frames: dict[str, pd.DataFrame], sources: dict[str, Source], config: DataConfig, label_names: list[str]
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Use given splits; split one file (or carve a missing validation/test split from train) by ratios, stratified."""
    train_ratio, validation_ratio, test_ratio = config.split_ratios
    if abs(train_ratio + validation_ratio + test_ratio - 1) > 1e-6:
        raise DataError(f"data.split_ratios {list(config.split_ratios)} must sum to 1")
    base_key = WHOLE if WHOLE in frames else "train"
    base = frames[base_key]
    if len(frames[base_key].label.unique()) < 2:
        raise DataError(f"{sources[base_key].name}: column '{config.label_column}' has a single class {base.label.iloc[0]!r}; a classifier needs at least two")
    if config.sample_size and len(base) > config.sample_size:
        base = base.sample(n=config.sample_size, random_state=config.split_seed)
    splits = {name: frame for name, frame in frames.items() if name != base_key}
    split_sources = {name: sources[name].name for name in splits}
    carve = [name for name in ("test", "validation") if name not in splits]
    ratios = {"test": test_ratio, "validation": validation_ratio}
    total = len(base) / (train_ratio + sum(ratios[name] for name in carve))  # rows the ratios refer to
    for name in carve:
        rows = round(total * ratios[name])
        base, splits[name] = _stratified_split(base, rows, config, sources[base_key].name)
        split_sources[name] = f"{sources[base_key].name} ({name} split, seed {config.split_seed})"
    splits["train"] = base
    split_sources["train"] = sources[base_key].name if not carve else f"{sources[base_key].name} (train split, seed {config.split_seed})"
    return {name: splits[name] for name in SPLITS}, {name: split_sources[name] for name in SPLITS}


def _stratified_split(frame: pd.DataFrame, rows: int, config: DataConfig, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    counts = frame.label.value_counts()
    if counts.min() < 3:
        raise DataError(
            f"{source}: class {counts.idxmin()!r} has only {counts.min()} rows; each class needs at least 3 to appear in train, validation and test"
        )
    try:
        kept, taken = train_test_split(frame, test_size=rows, random_state=config.split_seed, stratify=frame.label)
    except ValueError as error:  # too few rows for the requested ratio
        raise DataError(f"{source}: cannot split {len(frame)} rows by data.split_ratios {list(config.split_ratios)} ({error})") from error
    return kept.sort_values(ROW), taken.sort_values(ROW)


def check_classes(
    splits: dict[str, pd.DataFrame], split_sources: dict[str, str], label_names: list[str], config: DataConfig, given: Collection[str] = ()
) -> None:
    """Every class in every split; `given` names the splits read from their own file (the others were carved by data.split_ratios)."""
    for name, frame in splits.items():
        present = set(frame.label)
        for label in label_names:
            if label not in present:
                raise DataError(
                    f"{split_sources[name]}: column '{config.label_column}': class {label!r} has no rows in the {name} split; "
                    f"every class must appear in train, validation and test ({_missing_class_advice(name, given)})"
                )


def _missing_class_advice(split: str, given: Collection[str]) -> str:
    if split in given:
        return f"add rows of this class to the {split} file, or relabel or remove its rows in the other splits"
    return "add rows of this class or adjust data.split_ratios"


def text_key(text: str) -> str:
    """What makes two texts the same one (leakage, duplicates): whitespace and case do not count."""
    return " ".join(text.split()).casefold()


def find_leakage(splits: dict[str, pd.DataFrame], remove: bool) -> dict[str, Any]:
    """Count validation/test texts that also occur in train (whitespace- and case-insensitive)."""
    train_keys = set(splits["train"].text.map(text_key))
    leakage: dict[str, Any] = {"removed": remove}
    for name in ("validation", "test"):
        leaked = splits[name].text.map(text_key).isin(train_keys)
        leakage[name] = int(leaked.sum())
        if leaked.any():
            action = "removed" if remove else "kept (set data.remove_leakage: true to drop them)"
            logger.warning("%d %s texts also appear in train: %s", int(leaked.sum()), name, action)
        if remove:
            splits[name] = splits[name][~leaked]
    return leakage


# ---- statistics -------------------------------------------------------------------------------


def describe(
    splits: dict[str, pd.DataFrame], label_names: list[str], dropped: dict[str, int], leakage: dict[str, Any], split_sources: dict[str, str]
) -> dict[str, Any]:
    stats: dict[str, Any] = {"label_names": label_names, "splits": {}, "dropped_empty_texts": dropped, "leakage": leakage}
    for name, frame in splits.items():
        chars = frame.text.str.len()
        words = frame.text.str.split().str.len()
        stats["splits"][name] = {
            "source": split_sources[name],
            "rows": len(frame),
            "labels": {label: int((frame.label == label).sum()) for label in label_names},
            "duplicate_texts": int(frame.text.map(text_key).duplicated().sum()),
            "chars": _summary(chars),
            "words": _summary(words),
        }
    return stats


def _summary(values: pd.Series) -> dict[str, float]:
    if values.empty:
        return {}
    return {
        "mean": round(float(values.mean()), 2),
        "median": float(values.median()),
        "p95": float(values.quantile(0.95)),
        "max": int(values.max()),
    }


def write_splits(splits: dict[str, pd.DataFrame], run: RunDir) -> None:
    run.data.mkdir(parents=True, exist_ok=True)
    for name, frame in splits.items():
        frame.to_parquet(run.split(name), index=False)


def read_splits(run: RunDir) -> dict[str, pd.DataFrame]:
    run.require(*(run.split(name) for name in SPLITS))
    return {name: pd.read_parquet(run.split(name)) for name in SPLITS}
