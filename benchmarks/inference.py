"""CPU inference of a run's model: transformers pipeline (fp32) vs ONNX fp32 vs ONNX int8 (`hubtools export`).

    python benchmarks/inference.py --run RUN [--texts tweets.csv] [--rows 1024] [--latency-rows 200] [--repeat 3]

Same texts (real tweets), same thread count and the run's max_length for every backend. Throughput
classifies --rows texts in batches of 64 (each batch padded to its longest, as the pipeline does);
latency classifies --latency-rows texts one at a time (p50/p95). Every round runs all three backends,
so each sees the same machine load; the printed ratios are per round (paired), then the median.
Quality: F1 macro and accuracy of each backend on the run's test split. RUN/model/onnx/ is
exported first when missing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BATCH_SIZE = 64
DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment140-100k" / "tweets.csv"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run directory (trained by hubtools train)")
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS, help="CSV with a text column (default: the shared Sentiment140 tweets)")
    parser.add_argument("--rows", type=int, default=1024, help="texts for the throughput test")
    parser.add_argument("--latency-rows", type=int, default=200, help="texts classified one at a time")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, help="intra-op threads for every backend (default: the cores this process may use)")
    return parser.parse_args()


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def throughput(classify: Callable[[list[str]], list[int]], texts: list[str]) -> float:
    start = time.perf_counter()
    classify(texts)
    return len(texts) / (time.perf_counter() - start)


def latencies_ms(classify: Callable[[list[str]], list[int]], texts: list[str]) -> list[float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        classify([text])
        times.append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    args = parse_args()
    import pandas as pd
    import torch
    from transformers import pipeline

    from hubtools.config import load_config
    from hubtools.export import OnnxClassifier, cpu_threads, export_run
    from hubtools.metrics import compute_classification_metrics
    from hubtools.rundir import RunDir

    run = RunDir(args.run)
    threads = args.threads or cpu_threads()
    torch.set_num_threads(threads)
    max_length = load_config(run.config).training.max_length
    if not run.onnx_int8.is_file():
        export_run(run.root)

    texts = pd.read_csv(args.texts, usecols=["text"])["text"].astype(str).tolist()
    throughput_texts, latency_texts = texts[: args.rows], texts[args.rows : args.rows + args.latency_rows]
    classifier = pipeline("text-classification", model=str(run.model), device="cpu")
    label2id = classifier.model.config.label2id

    def pipeline_predict(batch: list[str]) -> list[int]:
        return [label2id[row["label"]] for row in classifier(batch, batch_size=BATCH_SIZE, truncation=True, max_length=max_length)]

    backends: dict[str, Callable[[list[str]], list[int]]] = {"pipeline fp32": pipeline_predict}
    for name, path in (("ONNX fp32", run.onnx_fp32), ("ONNX int8", run.onnx_int8)):
        backends[name] = OnnxClassifier(path, classifier.tokenizer, max_length, threads).predict

    test = pd.read_parquet(run.split("test"))
    names = [classifier.model.config.id2label[index] for index in sorted(classifier.model.config.id2label)]
    references = [names.index(label) if isinstance(label, str) else int(label) for label in test["label"]]
    print(f"run {run.root}, {threads} threads, max_length {max_length}, {len(throughput_texts)} texts in batches of {BATCH_SIZE}, "
          f"{len(latency_texts)} one at a time, {args.repeat} rounds; load average before {os.getloadavg()}")
    for name, classify in backends.items():
        metrics = compute_classification_metrics(classify(test["text"].astype(str).tolist()), references, names)
        print(f"  {name:14s} test split ({len(test)} rows): F1 macro {metrics['f1_macro']:.4f}, accuracy {metrics['accuracy']:.4f}")

    for classify in backends.values():  # warm-up: first-call allocations, lazy graph optimisation
        classify(throughput_texts[:BATCH_SIZE])
    rates: dict[str, list[float]] = {name: [] for name in backends}
    p50: dict[str, list[float]] = {name: [] for name in backends}
    p95: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(args.repeat):
        for name, classify in backends.items():
            rates[name].append(throughput(classify, throughput_texts))
            times = latencies_ms(classify, latency_texts)
            p50[name].append(percentile(times, 0.5))
            p95[name].append(percentile(times, 0.95))
    for name in backends:
        ratios = [rate / base for rate, base in zip(rates[name], rates["pipeline fp32"])]
        print(
            f"  {name:14s} {statistics.median(rates[name]):7.1f} texts/s (x{statistics.median(ratios):.2f} pipeline fp32, per round "
            f"{', '.join(f'{r:.2f}' for r in ratios)}); one text p50 {statistics.median(p50[name]):.1f} ms, p95 {statistics.median(p95[name]):.1f} ms"
        )
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
