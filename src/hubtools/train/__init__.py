"""Fine-tune a text classifier and write the run directory.

    accelerate launch --config_file accelerate_config.yaml -m hubtools.train --config configs/quickstart.yaml
    python -m hubtools.train --config configs/quickstart.yaml --training.learning_rate 3e-5
    hubtools train --config configs/quickstart.yaml --output-dir runs/mine [--resume]

The building blocks of one training run: here the data, the Trainer, one training and the evaluation of the
saved weights; beside them `run_dir` (a new or resumed run directory, the command as typed), `arguments`
(TrainingArguments and the machine they run on), `best_model` (the chosen checkpoint, saved into RUN/model) and
`base_model`. `hubtools.fit.run_training(config, output_dir=None, resume=False) -> RunDir` puts them together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.config import RunConfig, save_config
from hubtools.rundir import SPLITS, RunDir, write_json_atomic
from hubtools.train.arguments import trainer_arguments, training_arguments, with_selection_metric
from hubtools.train.base_model import base_model_source, load_model
from hubtools.train.best_model import EVAL_SUMMARY_KEYS, choose_checkpoint, epoch_rows, save_best_model, tie_breaking_callback, training_summary
from hubtools.train.run_dir import last_checkpoint

if TYPE_CHECKING:
    import pandas as pd

    from hubtools.downloads import HubDownloads
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase, Trainer, TrainerCallback

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """Tokenized splits plus what the model config needs."""

    splits: dict[str, pd.DataFrame]
    tokenized: DatasetDict
    label_names: list[str]
    tokenizer: PreTrainedTokenizerBase
    model_source: str | None = None  # the folder the base model loads from when downloaded from another Hub; None: config.model



# ---- data -------------------------------------------------------------------------------------


def prepare_training_data(config: RunConfig, run: RunDir, state: Any, downloads: HubDownloads | None = None) -> TrainingData:
    """Validate and split the data (or reuse the splits a resumed run already wrote), then tokenize.

    A new run writes config.yaml and its splits only once the model's tokenizer and the data passed
    every check, so a rejected input leaves no run directory behind.

    Args:
        config: the run's config.
        run: the run directory (its splits are reused when a resumed run already wrote them).
        state: accelerate's `PartialState` (the main process downloads and writes first).
        downloads: the Hub the base model and a `data.hub_id` dataset come from; None: the process's HF_ENDPOINT.

    Raises:
        InputError: the base model or its tokenizer cannot be loaded (HubUnreachableError when the Hub is down).
        DataError: the data fails a check (`hubtools.data.prepare_data`).
    """
    from hubtools.data import prepare_data, read_splits, write_splits
    from hubtools.metrics import positive_index

    with state.main_process_first():
        model_source = base_model_source(config.model, downloads)
    tokenizer = load_tokenizer(model_source or config.model)
    # Saved with the model, so `pipeline(..., truncation=True)` cuts only what the model cannot read; training and
    # the report cut at `training.max_length`, passed explicitly (it stays in config.yaml and the card).
    tokenizer.model_max_length = token_limit(tokenizer, model_source or config.model)
    if all(run.split(name).exists() for name in SPLITS) and run.dataset_stats.exists():
        splits = read_splits(run)
        label_names = run.read_json(run.dataset_stats)["label_names"]
    else:
        with state.main_process_first():
            ensure_sample_data(config)
            prepared = prepare_data(config.data, downloads)
        splits, label_names = prepared.splits, prepared.label_names
        positive_index(label_names, config.data.positive_label)  # a wrong positive_label fails before the run is written
        if state.is_main_process:
            save_config(config, run.config)
            write_splits(splits, run)
            prepared.stats["tokens"] = token_length_stats(splits["train"], tokenizer, config.training.max_length)
            write_json_atomic(run.dataset_stats, prepared.stats)
    tokenized = tokenize_splits(splits, label_names, tokenizer, config.training.max_length)
    return TrainingData(splits, tokenized, label_names, tokenizer, model_source)


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

    config = with_selection_metric(config, data.label_names)
    board = TensorBoardCallback()
    board.logging_dir = str(tensorboard)  # RUN/runs rather than transformers' default inside output_dir
    return without_printed_logs(trainer_factory(config)(
        model=load_model(config, data.label_names, data.model_source),
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
