"""Distillation (hubtools.distill): a tiny MiniLM teacher run taught to a MiniLM student on the quickstart sample;
the training loss is the documented mix, computed here independently on one batch; the run directory is complete."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from trained_run import base_model_path, binary_trained_run, trained_run

from hubtools.config import ConfigError, load_config
from hubtools.rundir import RunDir

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ALPHA, TEMPERATURE = 0.7, 3.0


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> RunDir:
    return trained_run(tmp_path_factory)


def student_config(teacher: RunDir, *extra: str):
    return load_config(
        CONFIGS / "quickstart.yaml",
        [
            f"model={base_model_path()}",
            f"data.path={teacher.root.parent / 'comments.csv'}",  # the teacher's data: the same labels
            "data.sample_size=150",
            "training.max_length=32",
            "training.max_steps=3",
            "training.logging_steps=1",
            f"distillation.teacher={teacher.root}",
            f"distillation.alpha={ALPHA}",
            f"distillation.temperature={TEMPERATURE}",
            *extra,
        ],
    )


def teacher_logits_by_transformers(teacher: RunDir, texts: list[str], max_length: int) -> np.ndarray:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(teacher.model)
    model = AutoModelForSequenceClassification.from_pretrained(teacher.model).eval()
    with torch.no_grad():
        return np.concatenate([
            model(**tokenizer([text], truncation=True, max_length=max_length, return_tensors="pt")).logits.numpy() for text in texts
        ])


def log_softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def test_the_training_loss_is_the_documented_mix_on_one_batch(teacher, tmp_path):
    from hubtools.distill import DistillationTrainer, with_teacher_logits
    from hubtools.train import build_trainer, prepare_training_data
    from hubtools.train.arguments import distributed_state

    config = student_config(teacher)
    run = RunDir(tmp_path / "student")
    data = prepare_training_data(config, run, distributed_state())
    texts = data.splits["train"]["text"].astype(str).tolist()
    data = dataclasses.replace(data, tokenized=with_teacher_logits(config, texts, data.tokenized, data.label_names))
    # the teacher's logits travel with each train row, in row order, as the teacher model gives them one text at a time
    stored = np.array(data.tokenized["train"]["teacher_logits"], dtype=np.float32)
    np.testing.assert_allclose(stored, teacher_logits_by_transformers(teacher, texts, config.training.max_length), atol=2e-4)

    trainer = build_trainer(config, data, run.checkpoints, run.tensorboard)
    assert isinstance(trainer, DistillationTrainer) and (trainer.alpha, trainer.temperature) == (ALPHA, TEMPERATURE)
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model.eval()  # no dropout: the same logits in both computations
    teacher_batch, labels = batch["teacher_logits"].numpy(), batch["labels"].numpy()
    with torch.no_grad():
        loss = trainer.compute_loss(model, dict(batch)).item()
        student = model(**{k: v for k, v in batch.items() if k not in ("labels", "teacher_logits")}).logits.numpy()

    student_t, teacher_t = log_softmax(student / TEMPERATURE), log_softmax(teacher_batch / TEMPERATURE)
    kl = (np.exp(teacher_t) * (teacher_t - student_t)).sum(axis=-1).mean()
    cross_entropy = -log_softmax(student)[np.arange(len(labels)), labels].mean()
    expected = ALPHA * TEMPERATURE**2 * kl + (1 - ALPHA) * cross_entropy
    assert loss == pytest.approx(expected, rel=1e-5)
    assert not math.isclose(expected, cross_entropy, rel_tol=1e-3)  # the teacher term changes the loss

    # an evaluation batch carries no teacher logits: the student's own cross-entropy
    eval_batch = next(iter(trainer.get_eval_dataloader()))
    with torch.no_grad():
        eval_loss = trainer.compute_loss(model, dict(eval_batch)).item()
        eval_logits = model(**{k: v for k, v in eval_batch.items() if k != "labels"}).logits.numpy()
    assert eval_loss == pytest.approx(-log_softmax(eval_logits)[np.arange(len(eval_batch["labels"])), eval_batch["labels"].numpy()].mean(), rel=1e-5)


def test_a_distilled_run_directory_is_complete(teacher, tmp_path):
    from hubtools.fit import run_training

    run = run_training(student_config(teacher), tmp_path / "student")
    for path in (run.config, run.model / "model.safetensors", run.metrics, run.test_predictions, run.checkpoint_selection, run.log_history, run.environment, run.dataset_stats):
        assert path.is_file(), path
    saved = load_config(run.config)
    assert (saved.distillation.teacher, saved.distillation.alpha, saved.distillation.temperature) == (str(teacher.root), ALPHA, TEMPERATURE)
    metrics = run.read_json(run.metrics)
    assert metrics["test"]["rows"] == run.read_json(run.dataset_stats)["splits"]["test"]["rows"]
    assert run.read_json(run.environment)["training"]["global_step"] == 3


def test_a_teacher_with_other_labels_or_no_model_is_refused_in_one_line(teacher, tmp_path, tmp_path_factory):
    from hubtools.distill import DistillationError
    from hubtools.fit import run_training

    with pytest.raises(DistillationError) as caught:
        run_training(student_config(teacher, f"distillation.teacher={tmp_path / 'nothing'}"), tmp_path / "a")
    assert str(caught.value).startswith(f"distillation.teacher: '{tmp_path / 'nothing'}' is neither a run directory (with model/) nor a model folder")
    assert not (tmp_path / "a").exists()  # refused before anything is written

    with pytest.raises(ConfigError, match=r"^distillation.alpha must be between 0 and 1 \(the teacher term's weight\), got 1.5$"):
        run_training(student_config(teacher, "distillation.alpha=1.5"), tmp_path / "b")

    binary = binary_trained_run(tmp_path_factory)  # labels hateful, neutral
    with pytest.raises(DistillationError) as caught:
        run_training(student_config(teacher, f"distillation.teacher={binary.root}"), tmp_path / "c")
    labels = RunDir(teacher.root).read_json(teacher.dataset_stats)["label_names"]
    assert str(caught.value) == (
        f"distillation.teacher: {binary.model} predicts ['hateful', 'neutral'], this run's labels are {labels}; "
        "distil from a teacher trained on the same labels in the same order"
    )


def test_reproduce_does_not_retrain_a_distilled_model_whose_teacher_is_not_published(tmp_path):
    """The teacher path in a published training_config.yaml is someone else's local path: never read."""
    from hubtools.reproduce import Published, missing_for

    config = student_config(RunDir(tmp_path / "teacher"))
    published = Published(tmp_path, "0" * 40, card="card", label_names=["a", "b"], config=config, clamped=[], provenance=None, claims=[])
    reason = "the model was distilled from a teacher that is not published (distillation.teacher): retraining cannot reproduce it; check its weights with --evaluate-only"
    assert reason in missing_for(None, published, evaluate_only=False)
    assert reason not in missing_for(None, published, evaluate_only=True)
