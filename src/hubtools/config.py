"""Typed run configuration: YAML mapped onto dataclasses.

The schema below is the contract between stages (train writes `RUN/config.yaml` with every
default filled in; report, cards and publish read it back with `load_config`).

Any field can be overridden with a dotted key, on the command line as `--training.learning_rate 3e-5`,
`--training.learning_rate=3e-5` or `training.learning_rate=3e-5`. Unknown keys are an error that
names the key and the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from hubtools.errors import HubtoolsError, InputError, one_line


class ConfigError(InputError):
    """A config file or override that does not fit the schema."""


@dataclass
class DataConfig:
    # Either `path` (local file or folder: csv, json/jsonl, parquet) with split ratios,
    # or `files` {split: path}, or `hub_id` (a Hub dataset id, optionally with `hub_config`).
    path: str | None = None
    files: dict[str, str] | None = None
    hub_id: str | None = None
    hub_config: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    label_names: list[str] | None = None  # for integer labels; order = id
    positive_label: str | None = None  # binary tasks: the class binary F1/precision/recall are about (default: the second label)
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 42
    sample_size: int | None = None  # rows sampled (seeded) before splitting, e.g. 10k of sentiment140
    max_null_fraction: float = 0.01  # empty/null texts above this fraction are an error
    remove_leakage: bool = False  # drop test/validation texts that also appear in train
    extra_columns: list[str] = field(default_factory=list)  # kept in RUN/data (e.g. platform for --slice-by)
    create_sample_if_missing: bool = False  # write hubtools' sample comments to `path` when it does not exist


@dataclass
class TrainingConfig:
    learning_rate: float = 5e-5
    per_device_train_batch_size: int = 32
    per_device_eval_batch_size: int = 64
    num_train_epochs: float = 3
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_length: int = 128
    group_by_length: bool = True
    seed: int = 42
    max_steps: int = -1  # > 0 stops early (smoke tests); -1 = train num_train_epochs
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16 ; auto = fp16/bf16 only on a GPU that supports it
    metric_for_best_model: str | None = None  # None: the task's metric, the card's headline (F1 of data.positive_label for two classes, else f1_macro)
    save_total_limit: int = 2
    logging_steps: int = 10
    dataloader_num_workers: int = 0
    threads: int | None = None  # CPU threads for torch; None = OMP_NUM_THREADS, else the cores other processes leave free (hubtools.threads)


@dataclass
class HPSearchConfig:
    enabled: bool = False
    n_trials: int = 8
    learning_rate: tuple[float, float] = (1e-5, 5e-5)  # log-uniform
    batch_sizes: list[int] = field(default_factory=lambda: [16, 32])
    metric: str | None = None  # None = training.metric_for_best_model (as resolved for the task)
    direction: str = "maximize"
    pruner: str = "median"  # median | none ; median prunes a trial whose epoch score is below the median
    pruner_startup_trials: int = 1  # trials that finish before the pruner may stop others
    # params tried before sampling (Optuna enqueue_trial), e.g. [{learning_rate: 2.0e-5, per_device_train_batch_size: 32}]
    first_trials: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 42

    def objective_metric(self, training: TrainingConfig) -> str | None:
        return self.metric or training.metric_for_best_model


@dataclass
class EvaluateConfig:
    sample_size: int | None = None  # score validation and test on this many rows (seeded) when a split is larger
    sample_seed: int = 42

    def rows(self, total: int) -> list[int] | None:
        """Positions (in file order) of the rows a split of `total` rows is scored on; None: all of them.

        The same rows for train's metrics, `hubtools evaluate`, the card and `hubtools verify`.
        """
        if self.sample_size is None or self.sample_size >= total:
            return None
        import numpy as np

        chosen = np.random.default_rng(self.sample_seed).choice(total, size=self.sample_size, replace=False)
        return sorted(int(position) for position in chosen)


@dataclass
class CardConfig:
    prose: str | None = None  # YAML/markdown file with description, intended uses, limitations, label definitions
    license: str = "apache-2.0"
    language: list[str] = field(default_factory=lambda: ["en"])
    tags: list[str] = field(default_factory=list)
    widget_examples: list[str] = field(default_factory=list)
    citation: str | None = None


@dataclass
class DistillationConfig:
    # hubtools.distill: train on a teacher's soft labels as well as the true ones
    teacher: str | None = None  # a run directory (its model/) or a model folder with the same labels; None: no distillation
    alpha: float = 0.5  # weight of the teacher term (temperature-scaled KL); 1 - alpha weighs the cross-entropy on the labels
    temperature: float = 2.0  # softens both distributions in the teacher term


@dataclass
class RunConfig:
    model: str = "sentence-transformers/all-MiniLM-L6-v2"  # Hub id (resolved via HF_ENDPOINT) or local path
    output_dir: str = "runs/quickstart"
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    hp_search: HPSearchConfig = field(default_factory=HPSearchConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    card: CardConfig = field(default_factory=CardConfig)
    distillation: DistillationConfig = field(default_factory=DistillationConfig)


def describe_yaml_error(problem: yaml.YAMLError) -> str:
    """Where the YAML parser stopped (line and column of the fault, 1-based) and why, on one line."""
    mark = getattr(problem, "problem_mark", None)
    if mark is None:
        return f"not valid YAML ({one_line(problem)})"
    reason = one_line(getattr(problem, "problem", None) or problem)
    context, context_mark = getattr(problem, "context", None), getattr(problem, "context_mark", None)
    started = f" ({context} started on line {context_mark.line + 1})" if context and context_mark and context_mark.line != mark.line else ""
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {reason}{started}"


def read_yaml_mapping(path: Path, error: type[HubtoolsError], what: str) -> dict[str, Any]:
    """A YAML file holding a mapping (empty file: {}); anything else is a one-line `error` naming the file."""
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as problem:
        raise error(f"{path}: {describe_yaml_error(problem)}; fix the file") from problem
    if not isinstance(values, dict):
        raise error(f"{path}: expected a mapping of {what} at the top level")
    return values


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML config, apply dotted `key=value` overrides, and return the typed RunConfig."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; pass an existing YAML file (see configs/)")
    raw = read_yaml_mapping(path, ConfigError, "config keys")
    for override in overrides:
        key, value = parse_override(override)
        _set_dotted(raw, key, value, source=f"override {override!r}")
    config = config_from_dict(raw, source=str(path))
    if config.card.prose and not Path(config.card.prose).is_absolute():
        # the prose file sits next to the config; resolved so RUN/config.yaml still finds it
        config.card.prose = str((path.parent / config.card.prose).resolve())
    return config


def config_from_dict(raw: dict[str, Any], source: str = "config") -> RunConfig:
    config = _build(RunConfig, raw, prefix="", source=source)
    if config.evaluate.sample_size is not None and config.evaluate.sample_size < 1:
        raise ConfigError(f"{source}: evaluate.sample_size must be a positive number of rows (or left out to score every row)")
    return config


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    return _plain(dataclasses.asdict(config))


def shareable_config_dict(config: RunConfig) -> dict[str, Any]:
    """The config as published: absolute local paths cut to their file names (they mean nothing elsewhere
    and may name users); Hub ids and relative paths stay as they are."""

    def file_name(value: str | None) -> str | None:
        return Path(value).name if value and Path(value).is_absolute() else value

    shared = config_to_dict(config)
    shared["model"] = file_name(shared["model"])
    shared["output_dir"] = file_name(shared["output_dir"])
    shared["data"]["path"] = file_name(shared["data"]["path"])
    if shared["data"]["files"]:
        shared["data"]["files"] = {split: file_name(path) for split, path in shared["data"]["files"].items()}
    shared["card"]["prose"] = file_name(shared["card"]["prose"])
    shared["distillation"]["teacher"] = file_name(shared["distillation"]["teacher"])
    return shared


def save_config(config: RunConfig, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")


def parse_override(text: str) -> tuple[str, Any]:
    """`training.learning_rate=3e-5` -> ("training.learning_rate", 3e-05); the value is parsed as YAML."""
    key, sep, value = text.removeprefix("--").partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. training.learning_rate=3e-5")
    return key.strip(), yaml.safe_load(value) if value.strip() else None


def split_override_args(args: Iterable[str]) -> list[str]:
    """Turn `--a.b 1 --c=2 d.e=3` command-line words into ["a.b=1", "c=2", "d.e=3"]."""
    words, overrides = list(args), []
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--") and "=" not in word:
            if index + 1 >= len(words):
                raise ConfigError(f"override {word}: missing a value, e.g. {word} VALUE")
            overrides.append(f"{word[2:]}={words[index + 1]}")
            index += 2
            continue
        if "=" not in word:
            raise ConfigError(f"unexpected argument {word!r}: overrides look like --training.learning_rate 3e-5")
        overrides.append(word.removeprefix("--"))
        index += 1
    return overrides


def all_keys(cls: type = RunConfig, prefix: str = "") -> list[str]:
    """Every dotted key the schema accepts, e.g. ["model", ..., "training.learning_rate", ...]."""
    keys = []
    for item in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[item.name]
        keys.append(prefix + item.name)
        if dataclasses.is_dataclass(hint):
            keys.extend(all_keys(hint, prefix=f"{prefix}{item.name}."))
    return keys


def _unknown_key_error(key: str, source: str) -> ConfigError:
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else "; see docs/training.md for the valid keys"
    return ConfigError(f"{source}: unknown key '{key}'{hint}")


def _set_dotted(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    if key not in all_keys():
        raise _unknown_key_error(key, source)
    *parents, leaf = key.split(".")
    node = raw
    for parent in parents:
        node = node.setdefault(parent, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: '{parent}' is not a section")
    node[leaf] = value


def _build(cls: type, raw: Any, prefix: str, source: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.')}' must be a mapping of keys")
    hints = typing.get_type_hints(cls)
    names = {item.name for item in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise _unknown_key_error(prefix + str(key), source)
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, f"{prefix}{name}.", source)
        else:
            values[name] = _coerce(value, hint, f"{prefix}{name}", source)
    return cls(**values)


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check `value` against the annotation, converting what YAML leaves ambiguous ("3e-5" -> 3e-05)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (arg for arg in args if arg is not type(None)):
            try:
                return _coerce(value, option, key, source)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin in (list, tuple) and isinstance(value, (list, tuple)):
        item_hints = args if origin is tuple and Ellipsis not in args else (args[0],) * len(value)
        if len(item_hints) != len(value):
            raise ConfigError(f"{source}: '{key}' needs {len(item_hints)} values, got {len(value)}")
        items = [_coerce(item, item_hint, f"{key}[{i}]", source) for i, (item, item_hint) in enumerate(zip(value, item_hints))]
        return tuple(items) if origin is tuple else items
    if origin is dict and isinstance(value, dict):
        return {str(k): _coerce(v, args[1], f"{key}.{k}", source) for k, v in value.items()}
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    if hint is str and isinstance(value, bool):
        return "yes" if value else "no"  # YAML 1.1 reads a bare `no` (e.g. mixed_precision: no) as False
    if hint is str and isinstance(value, (str, int, float)):
        return str(value)
    expected = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{source}: '{key}' must be {expected}, got {value!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
