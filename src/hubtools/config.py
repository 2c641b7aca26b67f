"""Typed run configuration: YAML mapped onto dataclasses.

The schema below is the contract between stages (train writes `RUN/config.yaml` with every
default filled in; report, cards and publish read it back with `load_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 42
    sample_size: int | None = None  # rows sampled (seeded) before splitting, e.g. 10k of sentiment140
    max_null_fraction: float = 0.01  # empty/null texts above this fraction are an error
    remove_leakage: bool = False  # drop test/validation texts that also appear in train
    extra_columns: list[str] = field(default_factory=list)  # kept in RUN/data (e.g. platform for --slice-by)


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
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16 ; auto = fp16/bf16 only on a GPU that supports it
    metric_for_best_model: str = "f1_macro"
    save_total_limit: int = 2
    logging_steps: int = 10
    dataloader_num_workers: int = 0


@dataclass
class HPSearchConfig:
    enabled: bool = False
    n_trials: int = 8
    learning_rate: tuple[float, float] = (1e-5, 5e-5)  # log-uniform
    batch_sizes: list[int] = field(default_factory=lambda: [16, 32])
    metric: str = "f1"
    direction: str = "maximize"
    pruner: str = "median"  # median | none
    seed: int = 42


@dataclass
class CardConfig:
    prose: str | None = None  # YAML/markdown file with description, intended uses, limitations, label definitions
    license: str = "apache-2.0"
    language: list[str] = field(default_factory=lambda: ["en"])
    tags: list[str] = field(default_factory=list)
    widget_examples: list[str] = field(default_factory=list)
    citation: str | None = None


@dataclass
class RunConfig:
    model: str = "sentence-transformers/all-MiniLM-L6-v2"  # Hub id (resolved via HF_ENDPOINT) or local path
    output_dir: str = "runs/quickstart"
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    hp_search: HPSearchConfig = field(default_factory=HPSearchConfig)
    card: CardConfig = field(default_factory=CardConfig)
