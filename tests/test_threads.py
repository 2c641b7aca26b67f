"""How many threads a training process takes (hubtools.threads): explicit settings win, else the cores others leave free."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hubtools.config import ConfigError
from hubtools.threads import available_cores, busy_elsewhere, choose_threads


def test_an_idle_machine_gives_every_core_shared_between_local_processes() -> None:
    assert choose_threads(8).threads == 8
    assert choose_threads(8, local_processes=2).threads == 4
    assert choose_threads(2, local_processes=4).threads == 1


def test_a_busy_machine_gives_the_cores_others_leave_free() -> None:
    assert choose_threads(8, busy_elsewhere=3.4).threads == 5
    assert choose_threads(8, local_processes=2, busy_elsewhere=2.0).threads == 3
    assert choose_threads(2, busy_elsewhere=1.6).threads == 1
    assert choose_threads(2, busy_elsewhere=9.0).threads == 1  # never fewer than one
    busy = choose_threads(2, busy_elsewhere=1.0)
    assert busy.threads == 1 and busy.reason == "2 cores available, 1.0 busy with other processes, 1 training process(es) here"
    assert choose_threads(2, busy_elsewhere=0.4).threads == 2  # rounded: under half a core is not taken away


def test_training_threads_then_omp_num_threads_win_over_the_measurement() -> None:
    assert choose_threads(8, busy_elsewhere=7.0, requested=6, omp_num_threads="2") == choose_threads(1, requested=6)
    assert choose_threads(8, requested=6).reason == "training.threads"
    omp = choose_threads(8, busy_elsewhere=7.0, omp_num_threads="3")
    assert (omp.threads, omp.reason) == (3, "OMP_NUM_THREADS")
    assert choose_threads(8, omp_num_threads=" ").threads == 8  # empty: unset


@pytest.mark.parametrize(("requested", "omp", "message"), [
    (0, None, "training.threads: 0 is not a thread count; use 1 or more, or leave it out to let hubtools choose"),
    (None, "two", "OMP_NUM_THREADS='two': not a positive whole number; unset it or set e.g. OMP_NUM_THREADS=2"),
    (None, "0", "OMP_NUM_THREADS='0': not a positive whole number; unset it or set e.g. OMP_NUM_THREADS=2"),
])  # fmt: skip
def test_impossible_settings_are_one_line_errors(requested: int | None, omp: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        choose_threads(4, requested=requested, omp_num_threads=omp)
    assert str(raised.value) == message


def test_a_spinning_process_is_seen_as_a_busy_core() -> None:
    cpus = available_cores()
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = busy_elsewhere(cpus, seconds=0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert 0.6 <= busy <= len(cpus) + 0.1  # the spinner's core, plus whatever else this shared machine runs
