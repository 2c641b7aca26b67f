"""Fine-tune a text classifier and write the run directory.

    accelerate launch --config_file accelerate_config.yaml -m hubtools.train --config configs/quickstart.yaml
    python -m hubtools.train --config configs/quickstart.yaml --training.learning_rate 3e-5
    hubtools train --config configs/quickstart.yaml --output-dir runs/mine [--resume]

The building blocks of one training run (data, Trainer, best model, evaluation of the saved weights);
`hubtools.fit.run_training(config, output_dir=None, resume=False) -> RunDir` puts them together.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.config import RunConfig, config_to_dict, load_config, save_config
from hubtools.errors import InputError
from hubtools.rundir import SPLITS, RunDir, write_json_atomic

if TYPE_CHECKING:
    import pandas as pd
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase, Trainer, TrainerCallback, TrainingArguments

logger = logging.getLogger(__name__)

EVAL_SUMMARY_KEYS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time", "epoch")
MACHINE_SETTINGS = {"training.threads"}  # how this machine runs the recipe, not the recipe: may change on --resume


# Fused AdamW on CPU too (torch >= 2.4): on MiniLM its step takes 19 ms where the foreach one takes 86 ms of a
# 375 ms training step (benchmarks/train_step_parts.py; docs/training.md, Throughput benchmark).
OPTIMIZER = "adamw_torch_fused"


class RunDirError(InputError):
    """A run directory that cannot be started or resumed as asked."""


@dataclass
class TrainingData:
    """Tokenized splits plus what the model config needs."""

    splits: dict[str, pd.DataFrame]
    tokenized: DatasetDict
    label_names: list[str]
    tokenizer: PreTrainedTokenizerBase


# ---- run directory ----------------------------------------------------------------------------


def check_run_dir(run: RunDir, config: RunConfig, resume: bool) -> None:
    """A new run needs an empty folder; a resumed one the same config as its config.yaml."""
    if resume:
        if not run.config.exists():
            raise RunDirError(f"{run.root}: no run to resume (config.yaml missing); start it without --resume")
        saved = load_config(run.config)
        differences = _config_differences(saved, config)
        if differences:
            raise RunDirError(
                f"{run.config}: --resume with a different config ({differences[0]}); resume with the same config or start a new --output-dir"
            )
        return
    if run.root.exists() and any(run.root.iterdir()):
        raise RunDirError(f"{run.root}: already holds a run; pass --resume to continue it, or choose another --output-dir")


def _config_differences(saved: RunConfig, given: RunConfig) -> list[str]:
    def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(value, dict):
            return {k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): value}

    old, new = flatten(config_to_dict(saved)), flatten(config_to_dict(given))
    return [f"{key}: saved {old.get(key)!r}, given {new.get(key)!r}" for key in old if key not in MACHINE_SETTINGS and old.get(key) != new.get(key)]


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


# ---- data -------------------------------------------------------------------------------------


def prepare_training_data(config: RunConfig, run: RunDir, state: Any) -> TrainingData:
    """Validate and split the data (or reuse the splits a resumed run already wrote), then tokenize.

    A new run writes config.yaml and its splits only once the model's tokenizer and the data passed
    every check, so a rejected input leaves no run directory behind.
    """
    from hubtools.data import prepare_data, read_splits, write_splits
    from hubtools.metrics import positive_index

    tokenizer = load_tokenizer(config.model)
    # Saved with the model, so `pipeline(..., truncation=True)` cuts only what the model cannot read; training and
    # the report cut at `training.max_length`, passed explicitly (it stays in config.yaml and the card).
    tokenizer.model_max_length = token_limit(tokenizer, config.model)
    if all(run.split(name).exists() for name in SPLITS) and run.dataset_stats.exists():
        splits = read_splits(run)
        label_names = run.read_json(run.dataset_stats)["label_names"]
    else:
        with state.main_process_first():
            ensure_sample_data(config)
            prepared = prepare_data(config.data)
        splits, label_names = prepared.splits, prepared.label_names
        positive_index(label_names, config.data.positive_label)  # a wrong positive_label fails before the run is written
        if state.is_main_process:
            save_config(config, run.config)
            write_splits(splits, run)
            prepared.stats["tokens"] = token_length_stats(splits["train"], tokenizer, config.training.max_length)
            write_json_atomic(run.dataset_stats, prepared.stats)
    return TrainingData(splits, tokenize_splits(splits, label_names, tokenizer, config.training.max_length), label_names, tokenizer)


def ensure_sample_data(config: RunConfig) -> None:
    if config.data.create_sample_if_missing and config.data.path and not Path(config.data.path).exists():
        from hubtools.sample_data import write_sample_dataset

        write_sample_dataset(config.data.path)
        logger.info("wrote the hubtools sample dataset to %s", config.data.path)


def load_tokenizer(model: str) -> PreTrainedTokenizerBase:
    from huggingface_hub import constants
    from transformers import AutoTokenizer

    from hubtools.hubclient import model_load_error

    try:
        return AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as error:
        raise model_load_error(model, error, constants.ENDPOINT, "the tokenizer of model") from error


def token_limit(tokenizer: PreTrainedTokenizerBase, model: str) -> int:
    """The longest input `model` reads: its tokenizer's limit, else (tokenizers that set none report a huge
    sentinel) its position embeddings."""
    from transformers import AutoConfig
    from transformers.tokenization_utils_base import LARGE_INTEGER

    if tokenizer.model_max_length < LARGE_INTEGER:
        return int(tokenizer.model_max_length)
    return int(AutoConfig.from_pretrained(model).max_position_embeddings)


def tokenize_splits(splits: dict[str, pd.DataFrame], label_names: list[str], tokenizer: Any, max_length: int) -> DatasetDict:
    """Truncate at max_length without padding: DataCollatorWithPadding pads each batch to its longest text."""
    from datasets import Dataset, DatasetDict

    label_ids = {name: index for index, name in enumerate(label_names)}

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
        encoded["labels"] = [label_ids[label] for label in batch["label"]]
        return encoded

    return DatasetDict(
        {
            name: Dataset.from_pandas(frame[["text", "label"]], preserve_index=False).map(encode, batched=True, remove_columns=["text", "label"])
            for name, frame in splits.items()
        }
    )


def token_length_stats(train: pd.DataFrame, tokenizer: Any, max_length: int) -> dict[str, Any]:
    lengths = [len(ids) for ids in tokenizer(list(train.text), truncation=False)["input_ids"]]
    ordered = sorted(lengths)
    return {
        "max_length": max_length,
        "mean": round(sum(lengths) / len(lengths), 2),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "max": ordered[-1],
        "truncated_fraction": round(sum(length > max_length for length in lengths) / len(lengths), 4),
    }


# ---- training ---------------------------------------------------------------------------------


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


def load_model(config: RunConfig, label_names: list[str]) -> Any:
    from huggingface_hub import constants
    from transformers import AutoModelForSequenceClassification, set_seed

    from hubtools.hubclient import model_load_error

    set_seed(config.training.seed)  # the classification head is initialised from the seed
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            config.model,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: index for index, name in enumerate(label_names)},
            ignore_mismatched_sizes=True,  # a classifier as base (e.g. a hubtools run on other labels): its head is replaced
        )
    except (OSError, ValueError) as error:
        raise model_load_error(config.model, error, constants.ENDPOINT) from error


def training_arguments(config: RunConfig, output_dir: Path, **overrides: Any) -> TrainingArguments:
    """The TrainingArguments every hubtools Trainer starts from (training, evaluation, the throughput benchmark):
    the config's optimisation settings and this machine's precision, optimizer and device. `overrides` set
    what differs between them (evaluation and saving, batch order)."""
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
    """Training's arguments: evaluate and save every epoch, keep the best checkpoint by `metric_for_best_model`."""
    metric = config.training.metric_for_best_model
    return training_arguments(
        config,
        checkpoints,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        greater_is_better=greater_is_better if greater_is_better is not None else not metric.endswith("loss"),
    )


def build_trainer(
    config: RunConfig,
    data: TrainingData,
    checkpoints: Path,
    tensorboard: Path,
    callbacks: list[TrainerCallback] = (),
    greater_is_better: bool | None = None,
) -> Trainer:
    from transformers import DataCollatorWithPadding
    from transformers.integrations import TensorBoardCallback

    from hubtools.distill import trainer_factory
    from hubtools.metrics import trainer_compute_metrics

    board = TensorBoardCallback()
    board.logging_dir = str(tensorboard)  # RUN/runs rather than transformers' default inside output_dir
    return without_printed_logs(trainer_factory(config)(
        model=load_model(config, data.label_names),
        args=trainer_arguments(config, checkpoints, greater_is_better),
        train_dataset=data.tokenized["train"],
        eval_dataset=data.tokenized["validation"],
        processing_class=data.tokenizer,
        data_collator=DataCollatorWithPadding(data.tokenizer),
        compute_metrics=trainer_compute_metrics(data.label_names, config.data.positive_label),
        callbacks=[board, tie_breaking_callback(), *callbacks],
    ))


def without_printed_logs(trainer: Trainer) -> Trainer:
    """With its progress bars off, Trainer prints every log dict instead; RUN/log_history.json and TensorBoard keep them.
    They are printed only when transformers logs at INFO (`--verbose` / HUBTOOLS_VERBOSE=1)."""
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as transformers_logging

    if trainer.args.disable_tqdm and transformers_logging.get_verbosity() > transformers_logging.INFO:
        trainer.remove_callback(PrinterCallback)
    return trainer


def train_once(config: RunConfig, run: RunDir, data: TrainingData, resume: bool) -> dict[str, Any]:
    """One training run: checkpoints each epoch; the selected checkpoint (see hubtools.selection) is saved to RUN/model."""
    trainer = build_trainer(config, data, run.checkpoints, run.tensorboard)
    checkpoint = last_checkpoint(run.checkpoints) if resume else None
    output = trainer.train(resume_from_checkpoint=checkpoint)
    history = epoch_rows(trainer.state.log_history)
    choice = choose_checkpoint(trainer)
    save_best_model(trainer, run.model, weights_from=run.checkpoints / choice.checkpoint)
    if trainer.is_world_process_zero():
        write_json_atomic(run.log_history, history)
        write_json_atomic(run.checkpoint_selection, choice.as_dict())
    return training_summary(trainer, output.metrics, resumed_from=checkpoint)


def tie_breaking_callback() -> TrainerCallback:
    """Keeps Trainer's best checkpoint (kept from rotation, reloaded at the end) equal to hubtools' choice
    after every evaluation: Trainer alone keeps the first of tied epochs."""
    from transformers import TrainerCallback

    from hubtools.selection import row_key, select_checkpoint

    class TieBreaking(TrainerCallback):
        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            rows = epoch_rows(state.log_history)
            if rows and row_key(args.metric_for_best_model) in rows[-1]:
                choice = select_checkpoint(rows, args.metric_for_best_model, args.greater_is_better)
                state.best_global_step, state.best_metric = choice.step, choice.value

    return TieBreaking()


def choose_checkpoint(trainer: Trainer) -> Any:
    from hubtools.selection import select_checkpoint

    return select_checkpoint(epoch_rows(trainer.state.log_history), trainer.args.metric_for_best_model, trainer.args.greater_is_better)


def save_best_model(trainer: Trainer, destination: Path, weights_from: Path | None = None) -> None:
    """Save the best weights (`weights_from`, a checkpoint, when Trainer reloaded another) and tokenizer
    through a temporary folder so a crash leaves no half model."""
    if not trainer.is_world_process_zero():
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    loaded = Path(trainer.state.best_model_checkpoint or "")
    if weights_from is not None and loaded.name != weights_from.name:
        model = type(model).from_pretrained(weights_from)
    partial = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    trainer.processing_class.save_pretrained(partial)
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(partial, destination)


def training_summary(trainer: Trainer, train_metrics: dict[str, float], resumed_from: str | None) -> dict[str, Any]:
    choice = choose_checkpoint(trainer)
    return {
        "best_checkpoint": choice.checkpoint,
        "best_metric": choice.value,
        "selection_reason": choice.reason,
        "metric_for_best_model": trainer.args.metric_for_best_model,
        "global_step": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_runtime_s": train_metrics.get("train_runtime"),
        "train_samples_per_second": train_metrics.get("train_samples_per_second"),
        "resumed_from": _relative_checkpoint(resumed_from),
    }


def _relative_checkpoint(path: str | None) -> str | None:
    return Path(path).name if path else None


def epoch_rows(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per evaluation: epoch, step, mean training loss logged since the previous one, eval metrics."""
    rows, losses = [], []
    for entry in log_history:
        if "loss" in entry:
            losses.append(entry["loss"])
        if "eval_loss" not in entry:
            continue
        row: dict[str, Any] = {"epoch": round(entry["epoch"], 4), "step": entry["step"]}
        row["training_loss"] = round(sum(losses) / len(losses), 6) if losses else None
        row["validation_loss"] = entry["eval_loss"]
        for key, value in entry.items():
            name = key.removeprefix("eval_")
            if key.startswith("eval_") and name != "loss" and name not in EVAL_SUMMARY_KEYS:
                row[name] = value
        rows.append(row)
        losses = []
    return rows


# ---- evaluation of the saved weights ---------------------------------------------------------


def evaluate_saved_model(config: RunConfig, run: RunDir, data: TrainingData) -> dict[str, dict[str, float]]:
    """Reload RUN/model from disk and evaluate it on validation and test: the card's numbers belong to these weights."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer

    from hubtools.metrics import positive_index, trainer_compute_metrics
    from hubtools.metrics.uncertainty import uncertainty_summary
    from hubtools.saved_predictions import save_test_predictions

    run.require(run.model)
    tokenizer = AutoTokenizer.from_pretrained(run.model)
    model = AutoModelForSequenceClassification.from_pretrained(run.model)
    trainer = without_printed_logs(Trainer(
        model=model,
        # not "group_by_length": Trainer would group evaluation batches too, and hand rows back out of order
        args=training_arguments(config, run.checkpoints, train_sampling_strategy="sequential"),
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_compute_metrics(data.label_names, config.data.positive_label),
    ))
    results = {}
    for split in ("validation", "test"):
        dataset, sampled_from = data.tokenized[split], {}
        positions = config.evaluate.rows(len(dataset))
        if positions is not None:
            dataset, sampled_from = dataset.select(positions), {"sampled_from": len(dataset), "sample_seed": config.evaluate.sample_seed}
        output = predict_in_row_order(trainer, dataset, split)
        results[split] = {
            key.removeprefix(f"{split}_"): value
            for key, value in output.metrics.items()
            if key.removeprefix(f"{split}_") not in EVAL_SUMMARY_KEYS
        } | {"rows": len(dataset)} | sampled_from
    probabilities = torch.softmax(torch.as_tensor(output.predictions, dtype=torch.float32), dim=-1).numpy()
    # `hubtools evaluate --run` reuses them rather than scoring the test split again; saved only when the rows came
    # back in the split's order (their labels match row by row), else evaluate scores the split itself
    in_row_order = list(output.label_ids) == list(dataset["labels"])
    if trainer.is_world_process_zero() and in_row_order:
        texts = data.splits["test"]["text"].tolist()
        save_test_predictions(run, texts if positions is None else [texts[index] for index in positions], probabilities, config.training.max_length)
    results["test"] |= uncertainty_summary(probabilities, output.label_ids, positive_index(data.label_names, config.data.positive_label))
    return results


def predict_in_row_order(trainer: Trainer, dataset: Any, split: str) -> Any:
    """`trainer.predict` over `dataset` sorted by length (batches with little padding), with predictions and
    label ids handed back in the dataset's row order (what RUN/test_predictions.npz and the intervals need)."""
    import numpy as np
    from transformers.trainer_utils import PredictionOutput

    order = np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable")
    output = trainer.predict(dataset.select(order), metric_key_prefix=split)
    restore = np.argsort(order)
    return PredictionOutput(predictions=output.predictions[restore], label_ids=output.label_ids[restore], metrics=output.metrics)
