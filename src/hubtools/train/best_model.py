"""The best checkpoint: one row per evaluation, hubtools' choice among them (`hubtools.selection`) kept by
Trainer too, the chosen weights saved into RUN/model, and the summary environment.json records."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubtools.atomic_folder import replace_folder, staging_folder

if TYPE_CHECKING:
    from transformers import Trainer, TrainerCallback

    from hubtools.selection import CheckpointChoice

EVAL_SUMMARY_KEYS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time", "epoch")


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


def choose_checkpoint(trainer: Trainer) -> CheckpointChoice:
    from hubtools.selection import select_checkpoint

    return select_checkpoint(epoch_rows(trainer.state.log_history), trainer.args.metric_for_best_model, trainer.args.greater_is_better)


def save_best_model(trainer: Trainer, destination: Path, weights_from: Path | None = None) -> None:
    """Save the best weights (`weights_from`, a checkpoint, when Trainer reloaded another) and tokenizer into a
    folder beside `destination`, then swap it in (`replace_folder`): a failure or a kill leaves the previous model whole.

    Args:
        trainer: the Trainer that trained the model (only its main process saves).
        destination: RUN/model.
        weights_from: the chosen checkpoint's folder; None: the weights Trainer holds.
    """
    if not trainer.is_world_process_zero():
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    loaded = Path(trainer.state.best_model_checkpoint or "")
    if weights_from is not None and loaded.name != weights_from.name:
        model = type(model).from_pretrained(weights_from)
    partial = staging_folder(destination)
    try:
        model.save_pretrained(partial)
        trainer.processing_class.save_pretrained(partial)
        replace_folder(partial, destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


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
