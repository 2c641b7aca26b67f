"""Publishing a bertweet-large-sized model (1.4 GB of safetensors) to the embedded Hub: time and memory.

    python benchmarks/publish_large.py [--streams 64 2] [--repeat 1] [--keep]

Writes a run directory in a temp folder whose model.safetensors has the tensor names and shapes of
vinai/bertweet-large (RoBERTa-large: 24 layers, hidden 1024, vocabulary 50265; random fp32 values,
streamed to disk so this script never holds a tensor), starts a fresh embedded Hub, and publishes the
run with `hubtools.publish.publish` in a child process (the same code path as `hubtools publish`, verify
off), once per value of --streams (hubtools' `--upload-streams`: Xet upload streams in flight; 64 is
hf_xet's own adaptive limit, i.e. publishing before hubtools bounded it, 2 is hubtools' default), in turn,
--repeat times, the order reversed every other round. Each publish gets new random weights, since Xet
deduplicates chunks the Hub already holds (a second publish of the same file uploads almost nothing).
Prints each publish's wall time against one plain read of the same files, the peak RSS of the publishing
process (ru_maxrss of the child process) and of the Hub's server process (sampled every 50 ms), then the medians per --streams value, the time ratio against the first value, and the load average.
The temp folder is deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HIDDEN, LAYERS, INTERMEDIATE, VOCAB, POSITIONS = 1024, 24, 4096, 50265, 514
CHUNK = 8 * 1024 * 1024
CARD = """---
license: mit
model-index:
- name: bertweet-large-shapes
  results:
  - task: {type: text-classification}
    dataset: {name: none, type: none, split: test}
    metrics:
    - {type: accuracy, value: 0.0}
---
# Benchmark weights

Random values in vinai/bertweet-large's shapes.
"""
RUN_CONFIG = """model: vinai/bertweet-large
data: {path: none.csv, text_column: text, label_column: label}
card: {license: mit}
"""
PUBLISH = """
import resource, sys, time
from pathlib import Path
from hubtools.publish import PublishOptions, publish
start = time.perf_counter()
publish(PublishOptions(repo_id=sys.argv[1], run_dir=Path(sys.argv[2]), verify=False, upload_streams=int(sys.argv[3])), echo=lambda line: None)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bertweet_large_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "roberta.embeddings.word_embeddings.weight": (VOCAB, HIDDEN),
        "roberta.embeddings.position_embeddings.weight": (POSITIONS, HIDDEN),
        "roberta.embeddings.token_type_embeddings.weight": (1, HIDDEN),
        "roberta.embeddings.LayerNorm.weight": (HIDDEN,),
        "roberta.embeddings.LayerNorm.bias": (HIDDEN,),
    }
    for layer in range(LAYERS):
        prefix = f"roberta.encoder.layer.{layer}"
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[f"{prefix}.{name}.weight"], shapes[f"{prefix}.{name}.bias"] = (HIDDEN, HIDDEN), (HIDDEN,)
        shapes[f"{prefix}.intermediate.dense.weight"], shapes[f"{prefix}.intermediate.dense.bias"] = (INTERMEDIATE, HIDDEN), (INTERMEDIATE,)
        shapes[f"{prefix}.output.dense.weight"], shapes[f"{prefix}.output.dense.bias"] = (HIDDEN, INTERMEDIATE), (HIDDEN,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{prefix}.{norm}.weight"], shapes[f"{prefix}.{norm}.bias"] = (HIDDEN,), (HIDDEN,)
    shapes["classifier.dense.weight"], shapes["classifier.dense.bias"] = (HIDDEN, HIDDEN), (HIDDEN,)
    shapes["classifier.out_proj.weight"], shapes["classifier.out_proj.bias"] = (5, HIDDEN), (5,)
    return shapes


def write_random_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> int:
    """The safetensors layout (8-byte header size, JSON header, raw little-endian data), written in chunks."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4
        for dimension in shape:
            size *= dimension
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        remaining = offset
        while remaining:
            block = min(CHUNK, remaining)
            handle.write(os.urandom(block))
            remaining -= block
    return path.stat().st_size


def write_run(root: Path) -> int:
    """A run directory that `publish` accepts: weights, model and run configs, metrics and a reviewed card."""
    model = root / "model"
    model.mkdir(parents=True)
    size = write_random_safetensors(model / "model.safetensors", bertweet_large_shapes())
    config = {"architectures": ["RobertaForSequenceClassification"], "model_type": "roberta", "hidden_size": HIDDEN,
              "num_hidden_layers": LAYERS, "intermediate_size": INTERMEDIATE, "vocab_size": VOCAB, "max_position_embeddings": POSITIONS}
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (root / "metrics.json").write_text('{"test": {"accuracy": 0.0}}', encoding="utf-8")  # what the card says
    (root / "config.yaml").write_text(RUN_CONFIG, encoding="utf-8")  # publish lists the card's gaps from it
    (root / "card").mkdir()
    (root / "card" / "README.md").write_text(CARD, encoding="utf-8")
    return size


def read_once_seconds(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(CHUNK):
                    pass
    return time.perf_counter() - start


class PeakRss(threading.Thread):
    """Samples one process's RSS every 50 ms; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except Exception:  # the process ended
                return


def publish_once(repo_id: str, run: Path, streams: int, environment: dict[str, str]) -> tuple[float, float, float]:
    """Publish `run` to a new repo in a child process: seconds, and its peak RSS in MiB as the kernel counted it
    (its own ru_maxrss) and as sampled every 50 ms from outside (a check on the first)."""
    child = subprocess.Popen([sys.executable, "-c", PUBLISH, repo_id, str(run), str(streams)], env=environment,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    sampled = PeakRss(child.pid)
    sampled.start()
    stdout, stderr = child.communicate()
    sampled.done.set()
    if child.returncode != 0:
        raise SystemExit(f"the publishing process failed:\n{stderr[-3000:]}")
    seconds, peak_kb = stdout.strip().splitlines()[-1].split()
    return float(seconds), int(peak_kb) / 1024, sampled.peak / 2**20


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[64, 2], help="Xet upload streams to compare (64: hf_xet's own limit; 2: hubtools' default)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of one publish per --streams value, each to a new repo (so each uploads everything)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    from hubtools.hub import BackgroundHub, issue_token

    work = Path(tempfile.mkdtemp(prefix="publish-large-"))
    results: dict[int, list[tuple[float, float, float]]] = {streams: [] for streams in args.streams}
    try:
        server = BackgroundHub(work / "hub")  # binds a free port now; the server serves on that socket
        environment = {**os.environ, "HF_ENDPOINT": server.endpoint, "HF_HOME": str(work / "hf-home"),
                       "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
        os.environ.update(environment)
        server.start()
        try:
            environment["HF_TOKEN"] = issue_token(work / "hub", "bench", ["bench"])
            server_rss = PeakRss(server.process.pid)
            server_rss.start()
            print(f"load average before {load_average()}")
            for attempt in range(args.repeat):
                order = args.streams if attempt % 2 == 0 else args.streams[::-1]
                for streams in order:
                    run = work / f"run-{attempt}-{streams}"
                    size = write_run(run)  # new random weights: Xet would deduplicate a file the Hub already holds
                    read_seconds = read_once_seconds(run)
                    seconds, peak, sampled = publish_once(f"bench/large-{attempt}-{streams}", run, streams, environment)
                    shutil.rmtree(run)
                    results[streams].append((seconds, peak, sampled))
                    print(f"  round {attempt + 1}, {streams} upload streams: {size / 1e9:.2f} GB published in {seconds:.1f} s ({size / 1e6 / seconds:.0f} MB/s) vs one plain read "
                          f"{read_seconds:.1f} s; publishing process peak RSS {peak:.0f} MiB (sampled {sampled:.0f}); Hub server peak RSS so far "
                          f"{server_rss.peak / 2**20:.0f} MiB; load {load_average()}", flush=True)
            server_rss.done.set()
        finally:
            server.close()
        first = args.streams[0]
        for streams, runs in results.items():
            ratios = [run[0] / base[0] for run, base in zip(runs, results[first])]
            print(f"{streams:>3} upload streams: median {statistics.median(run[0] for run in runs):.1f} s, peak RSS {statistics.median(run[1] for run in runs):.0f} MiB, "
                  f"time / {first} streams {statistics.median(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        print(f"load average after {load_average()}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
