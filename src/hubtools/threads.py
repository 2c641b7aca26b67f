"""How many threads torch may use for training here: chosen once, at the start of training.

On a machine that other jobs keep busy, torch's default (one thread per core) makes its threads spin
against theirs: the quickstart's training once took 13x longer at load ~8. So, in this order:

1. `training.threads` (config or `--training.threads N`);
2. `OMP_NUM_THREADS`, unless `accelerate launch` started the process (it always sets its own value,
   1 unless told `--num_cpu_threads_per_process`, so it cannot be told from the user's);
3. the cores this process may run on (its affinity mask), less the cores other processes kept busy
   over a short sample, divided between the processes `accelerate launch` started on this machine.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from hubtools.config import ConfigError

logger = logging.getLogger(__name__)

PROC_STAT = Path("/proc/stat")
SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str


def choose_threads(
    cores: int, local_processes: int = 1, busy_elsewhere: float = 0.0, requested: int | None = None, omp_num_threads: str | None = None
) -> ThreadChoice:
    """The thread count for one training process, and why, from what `training_threads` measured."""
    if requested is not None:
        if requested < 1:
            raise ConfigError(f"training.threads: {requested} is not a thread count; use 1 or more, or leave it out to let hubtools choose")
        return ThreadChoice(requested, "training.threads")
    if omp_num_threads and omp_num_threads.strip():
        if not omp_num_threads.strip().isdigit() or int(omp_num_threads) < 1:
            raise ConfigError(f"OMP_NUM_THREADS={omp_num_threads!r}: not a positive whole number; unset it or set e.g. OMP_NUM_THREADS=2")
        return ThreadChoice(int(omp_num_threads), "OMP_NUM_THREADS")
    local_processes = max(1, local_processes)
    threads = max(1, max(1, cores - round(busy_elsewhere)) // local_processes)
    reason = f"{cores} cores available, {busy_elsewhere:.1f} busy with other processes, {local_processes} training process(es) here"
    return ThreadChoice(threads, reason)


def available_cores() -> list[int]:
    """The CPUs this process may run on (its affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def busy_elsewhere(cpus: list[int], seconds: float = SAMPLE_SECONDS) -> float:
    """Cores' worth of CPU time that other processes used on `cpus` while this one slept `seconds`.

    Read from /proc/stat's per-CPU counters (Linux), less this process's own CPU time in the window
    (its other threads); elsewhere the 1-minute load average, which also counts this process.
    """
    if not PROC_STAT.is_file():
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    before, own_before, started = _busy_ticks(cpus), time.process_time(), time.monotonic()
    time.sleep(seconds)
    after, own, elapsed = _busy_ticks(cpus), time.process_time() - own_before, time.monotonic() - started
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    return max(0.0, ((after - before) / ticks_per_second - own) / elapsed)


def _busy_ticks(cpus: list[int]) -> int:
    """Non-idle clock ticks of `cpus` so far (user, nice, system, irq, softirq, steal; not idle or iowait)."""
    wanted, total = {f"cpu{cpu}" for cpu in cpus}, 0
    for line in PROC_STAT.read_text().splitlines():
        name, *fields = line.split()
        if name in wanted:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
            total += user + nice + system + irq + softirq + steal
    return total


def launched_by_accelerate() -> bool:
    return "ACCELERATE_DYNAMO_BACKEND" in os.environ  # set by every `accelerate launch`, never by torch or hubtools


def training_threads(requested: int | None) -> ThreadChoice:
    """Choose the training's thread count on this machine now (see the module's docstring)."""
    omp = None if launched_by_accelerate() else os.environ.get("OMP_NUM_THREADS")
    if requested is not None or (omp and omp.strip()):
        return choose_threads(1, requested=requested, omp_num_threads=omp)
    cpus = available_cores()
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return choose_threads(len(cpus), local_processes, busy_elsewhere(cpus), requested, omp)


def set_training_threads(requested: int | None) -> ThreadChoice:
    """Set torch's intra-op threads for this training process and log the choice once."""
    import torch

    choice = training_threads(requested)
    torch.set_num_threads(choice.threads)
    # INFO (shown with --verbose): errors stay one line, and environment.json and the card record the choice
    logger.info("torch uses %d thread(s) for training (%s); set training.threads or OMP_NUM_THREADS to choose", choice.threads, choice.reason)
    return choice
