"""Knowledge distillation: a student trained on a teacher run's soft labels as well as the true ones.

Set `distillation.teacher` (a run directory, e.g. the MPNet run, or a model folder with the same labels in
the same order) and train as usual:

    hubtools train --config configs/tweeteval-emotion.yaml --output-dir runs/student distillation.teacher=runs/tweeteval-emotion-mpnet

The teacher scores the train split once, with its own tokenizer, before training; its logits travel with the
train rows as the `teacher_logits` column. The training loss on each batch is

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross-entropy(student, labels)

(`distillation_loss`; T = `distillation.temperature`, and T^2 keeps the soft term's gradients on the scale of the
hard one's, as in Hinton et al. 2015). Evaluation batches carry no teacher logits, so the validation loss, the
checkpoint choice and the saved model are the student's own: the run directory is an ordinary one that
evaluate, card, compare and publish read as any other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

from hubtools.config import ConfigError, RunConfig
from hubtools.errors import InputError

if TYPE_CHECKING:
    from datasets import DatasetDict

TEACHER_LOGITS = "teacher_logits"


class DistillationError(InputError):
    """A teacher that cannot teach this run."""


def check_distillation(config: RunConfig) -> None:
    """The settings and the teacher folder, checked before a run directory is written."""
    settings = config.distillation
    if not 0.0 <= settings.alpha <= 1.0:
        raise ConfigError(f"distillation.alpha must be between 0 and 1 (the teacher term's weight), got {settings.alpha}")
    if settings.temperature <= 0:
        raise ConfigError(f"distillation.temperature must be above 0, got {settings.temperature}")
    if config.hp_search.enabled:
        raise ConfigError("distillation: the Optuna search does not distil; disable hp_search or distillation.teacher")
    teacher_model_folder(settings.teacher or "")


def teacher_model_folder(teacher: str) -> Path:
    """A run directory's model/, or the folder itself when it holds a model's config.json."""
    path = Path(teacher)
    for folder in (path / "model", path):
        if (folder / "config.json").is_file():
            return folder
    raise DistillationError(
        f"distillation.teacher: {teacher!r} is neither a run directory (with model/) nor a model folder (with config.json); "
        "pass the run directory of the teacher's training, e.g. runs/tweeteval-emotion-mpnet"
    )


def teacher_logits(teacher: str, texts: Sequence[str], label_names: list[str], max_length: int, batch_size: int) -> np.ndarray:
    """The teacher's logits (float32), one row per text in input order; batches of similar lengths."""
    from hubtools.evaluation.predict import load_classifier

    folder = teacher_model_folder(teacher)
    classifier = load_classifier(folder)
    if classifier.label_names != label_names:
        raise DistillationError(
            f"distillation.teacher: {folder} predicts {classifier.label_names}, this run's labels are {label_names}; "
            "distil from a teacher trained on the same labels in the same order"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = classifier.model.to(device)
    lengths = [len(ids) for ids in classifier.tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    logits = np.zeros((len(texts), len(label_names)), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = classifier.tokenizer([texts[row] for row in rows], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            logits[rows] = model(**batch.to(device)).logits.float().cpu().numpy()
    return logits


def with_teacher_logits(config: RunConfig, train_texts: Sequence[str], tokenized: DatasetDict, label_names: list[str]) -> DatasetDict:
    """`tokenized` with the teacher's logits on `train_texts` added to its train split as the `teacher_logits` column."""
    from datasets import DatasetDict

    training = config.training
    logits = teacher_logits(config.distillation.teacher or "", train_texts, label_names, training.max_length, training.per_device_eval_batch_size)
    return DatasetDict({**tokenized, "train": tokenized["train"].add_column(TEACHER_LOGITS, logits.tolist())})


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, alpha: float, temperature: float) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) (mean over the batch) + (1 - alpha) * cross-entropy(student, labels)."""
    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=-1), F.log_softmax(teacher / temperature, dim=-1), reduction="batchmean", log_target=True
    )
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student, labels)


class DistillationTrainer(Trainer):
    """Trainer whose training loss is `distillation_loss` on batches that carry `teacher_logits`.

    Hooks: `compute_loss` pops `teacher_logits` from the batch and mixes them in; batches without them
    (evaluation, prediction) get Trainer's own loss. `alpha` and `temperature` are attributes.
    """

    loss_is_scaled_for_ga = False  # a per-batch mean, like the model's own loss: Trainer divides by accumulation steps

    def __init__(self, *, args: TrainingArguments, alpha: float, temperature: float, **kwargs: Any) -> None:
        args.remove_unused_columns = False  # keep teacher_logits, which forward() does not take, in the batches
        super().__init__(args=args, **kwargs)
        self.alpha, self.temperature = alpha, temperature

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
        teacher = inputs.pop(TEACHER_LOGITS, None)
        if teacher is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = distillation_loss(outputs.logits, teacher.to(outputs.logits.dtype), labels, self.alpha, self.temperature)
        return (loss, outputs) if return_outputs else loss


def trainer_factory(config: RunConfig) -> Callable[..., Trainer]:
    """Trainer, or DistillationTrainer with the config's alpha and temperature when it names a teacher."""
    if not config.distillation.teacher:
        return Trainer
    return functools.partial(DistillationTrainer, alpha=config.distillation.alpha, temperature=config.distillation.temperature)
