"""The TrainingArguments hubtools' Trainers start from, and the machine they run on: CPU or GPU, the process
group, torch's threads, mixed precision, the optimizer and the metric the best checkpoint is chosen by."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.config import RunConfig

if TYPE_CHECKING:
    from transformers import TrainingArguments

# Fused AdamW on CPU too (torch >= 2.4): on MiniLM its step takes 19 ms where the foreach one takes 86 ms of a
# 375 ms training step (benchmarks/train_step_parts.py; docs/training.md, Throughput benchmark).
OPTIMIZER = "adamw_torch_fused"


def with_selection_metric(config: RunConfig, label_names: list[str]) -> RunConfig:
    """`training.metric_for_best_model` left unset chooses the checkpoint by the task's metric, the one the card leads
    with (`hubtools.metrics.task_metric`), so the published checkpoint is the best by the number the card reports."""
    from hubtools.metrics import task_metric

    if config.training.metric_for_best_model is not None:
        return config
    training = dataclasses.replace(config.training, metric_for_best_model=task_metric(label_names, config.data.positive_label))
    return dataclasses.replace(config, training=training)


def runs_on_cpu() -> bool:
    """No CUDA device, or accelerate was told to use the CPU (`use_cpu: true` / `--cpu`)."""
    import torch

    return not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "false").lower() in {"1", "true"}


def distributed_state() -> Any:
    """The process group `accelerate launch` (torchrun) set up, seen the way Trainer will see it.

    accelerate only treats CPU processes as one group (gloo) when asked for the CPU explicitly; without
    `cpu=True` each of them would think it trains alone (world size 1, every process writing the run).
    """
    from accelerate import PartialState

    return PartialState(cpu=runs_on_cpu())


def configure_torch_threads(threads: int | None = None) -> str | None:
    """On CPU, set torch's threads for this training (`hubtools.threads`: `training.threads`, OMP_NUM_THREADS,
    else the cores other processes leave free) and return why that many; None on a GPU."""
    if not runs_on_cpu():
        return None
    from hubtools.threads import set_training_threads

    return set_training_threads(threads).reason


def resolve_precision(config: RunConfig) -> str:
    from hubtools.environment import resolve_mixed_precision

    return resolve_mixed_precision(config.training.mixed_precision)


def training_arguments(config: RunConfig, output_dir: Path, **overrides: Any) -> TrainingArguments:
    """The TrainingArguments every hubtools Trainer starts from (training, evaluation, the throughput benchmark):
    the config's optimisation settings and this machine's precision, optimizer and device. `overrides` set
    what differs between them (evaluation and saving, batch order).

    Args:
        config: the run's config (its `training` section).
        output_dir: where Trainer writes checkpoints.
        overrides: TrainingArguments settings that replace hubtools' own.

    Raises:
        InputError: `training.mixed_precision` asks for a precision this machine lacks (`hubtools.environment`).
    """
    import torch
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers import TrainingArguments

    training = config.training
    precision = resolve_precision(config)
    settings: dict[str, Any] = {
        "output_dir": str(output_dir),
        "learning_rate": training.learning_rate,
        "per_device_train_batch_size": training.per_device_train_batch_size,
        "per_device_eval_batch_size": training.per_device_eval_batch_size,
        "num_train_epochs": training.num_train_epochs,
        "max_steps": training.max_steps,
        "warmup_steps": training.warmup_steps,
        "weight_decay": training.weight_decay,
        "seed": training.seed,
        "fp16": precision == "fp16",
        "bf16": precision == "bf16",
        "optim": OPTIMIZER,
        "use_cpu": runs_on_cpu(),
        "train_sampling_strategy": "group_by_length" if training.group_by_length else "random",
        "logging_strategy": "steps",
        "logging_steps": training.logging_steps,
        "save_total_limit": training.save_total_limit,
        "dataloader_num_workers": training.dataloader_num_workers,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "report_to": "none",
        "disable_tqdm": are_progress_bars_disabled(),  # off without a terminal (hubtools.cli.output)
    }
    return TrainingArguments(**(settings | overrides))


def trainer_arguments(config: RunConfig, checkpoints: Path, greater_is_better: bool | None = None) -> TrainingArguments:
    """Training's arguments: evaluate and save every epoch, keep the best checkpoint by `metric_for_best_model`.

    Args:
        config: the run's config, its `training.metric_for_best_model` set (`with_selection_metric`).
        checkpoints: RUN/checkpoints.
        greater_is_better: whether a higher metric is better; None: all but losses.

    Raises:
        ValueError: `training.metric_for_best_model` is unset.
    """
    metric = config.training.metric_for_best_model
    if metric is None:
        raise ValueError("training.metric_for_best_model is unset: resolve it with with_selection_metric first")
    return training_arguments(
        config,
        checkpoints,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        greater_is_better=greater_is_better if greater_is_better is not None else not metric.endswith("loss"),
    )
