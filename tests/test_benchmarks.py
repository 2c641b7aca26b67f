"""The training-throughput benchmark's choice of batches: whole hubtools batches, drawn from a full-size epoch."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pandas as pd

from hubtools.config import RunConfig, TrainingConfig
from hubtools.train import load_tokenizer

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("train_throughput", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timed_batches_are_length_grouped_hubtools_batches() -> None:
    benchmark = load_benchmark()
    words = random.Random(0)
    pool = pd.DataFrame({"text": [" ".join(["word"] * words.randint(1, 60)) for _ in range(2000)]})
    tokenizer = load_tokenizer(benchmark.DEFAULT_MODEL)
    config = RunConfig(training=TrainingConfig(per_device_train_batch_size=32))
    rows = benchmark.hubtools_batches(pool, tokenizer, config, steps=4)
    assert len(rows) == len(set(rows)) == 4 * 32
    lengths = [len(ids) for ids in tokenizer(list(pool.text.iloc[rows]))["input_ids"]]
    batches = [lengths[start : start + 32] for start in range(0, len(lengths), 32)]
    padded = sum(max(batch) * len(batch) for batch in batches)
    shuffled = random.Random(1).sample(lengths, len(lengths))
    padded_at_random = sum(max(shuffled[start : start + 32]) * 32 for start in range(0, len(shuffled), 32))
    assert padded < 1.1 * sum(lengths) < padded_at_random  # grouped like a 2,000-row epoch, unlike random batches


def test_reference_setups_share_trainings_arguments_but_batch_order_and_saving(tmp_path: Path) -> None:
    """The notebooks' setups time the same optimisation as `hubtools train`: their TrainingArguments come from the
    same function and differ only in what the benchmark means to differ (batch order, no evaluation or saving)."""
    from dataclasses import fields

    from hubtools.train.arguments import trainer_arguments

    benchmark = load_benchmark()
    config = RunConfig(training=TrainingConfig(learning_rate=3e-5, per_device_eval_batch_size=48, warmup_steps=7, weight_decay=0.01, metric_for_best_model="f1_macro"))
    reference = benchmark.reference_arguments(config, tmp_path)
    training = trainer_arguments(config, tmp_path / "checkpoints")
    differing = {field.name for field in fields(training) if getattr(reference, field.name) != getattr(training, field.name)}
    assert differing == {
        "train_sampling_strategy", "eval_strategy", "do_eval", "save_strategy", "load_best_model_at_end", "metric_for_best_model",
        "greater_is_better",
    }
    assert (reference.learning_rate, reference.warmup_steps, reference.weight_decay, reference.per_device_eval_batch_size) == (3e-5, 7, 0.01, 48)


def test_peak_is_taken_over_square_sizes_and_the_models_own_gemms() -> None:
    """MiniLM (hidden 384, intermediate 1536) at 800 tokens per batch: every linear layer's forward, input- and weight-gradient product."""
    shapes = load_benchmark().gemm_shapes("cpu", 384, 1536, [800])
    assert {(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048)} <= set(shapes)
    assert {(800, 384, 384), (384, 800, 384), (800, 384, 1536), (800, 1536, 384), (1536, 800, 384), (384, 800, 1536)} <= set(shapes)
    assert len(shapes) == 3 + 6  # attention's square layers give two distinct products, the up and down projections four together
