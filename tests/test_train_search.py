"""Optuna search: trials stored in the run directory, pruning, the best trial's model kept without retraining."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from hubtools.config import load_config
from hubtools.ports import free_port
from hubtools.sample_data import write_sample_dataset
from hubtools.search import open_study
from hubtools.rundir import RunDir
from hubtools.fit import run_training

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.slow
def test_three_tiny_trials_one_pruned_best_model_kept(seeded_hub, tmp_path: Path) -> None:
    data = write_sample_dataset(tmp_path / "comments.csv", rows_per_label=30)
    overrides = [
        f"data.path={data}", "training.max_length=32", "training.num_train_epochs=2", "hp_search.enabled=true",
        "hp_search.n_trials=3", "hp_search.batch_sizes=[32]", "hp_search.learning_rate=[1.0e-6, 1.0e-3]",
        # a good and a hopeless learning rate first, so the median pruner stops the second after epoch 1
        "hp_search.first_trials=[{learning_rate: 5.0e-4, per_device_train_batch_size: 32}, {learning_rate: 1.0e-6, per_device_train_batch_size: 32}]",
    ]  # fmt: skip
    run = run_training(load_config(CONFIGS / "quickstart.yaml", overrides), output_dir=tmp_path / "run")

    trials = run.read_json(run.trials)
    assert [trial["number"] for trial in trials] == [0, 1, 2]
    assert trials[0]["state"] == "COMPLETE" and list(trials[0]["epoch_scores"]) == ["1", "2"]
    assert trials[1]["state"] == "PRUNED" and list(trials[1]["epoch_scores"]) == ["1"]
    assert all(trial["duration_s"] > 0 and "learning_rate" in trial["params"] for trial in trials)
    environment = run.read_json(run.environment)["training"]
    best = max((t for t in trials if t["state"] == "COMPLETE"), key=lambda t: t["value"])
    assert environment["best_trial"] == best["number"] and environment["best_params"] == best["params"]
    # RUN/model is the best trial's checkpoint itself: re-evaluated, it scores what the trial scored
    assert run.read_json(run.metrics)["validation"]["f1_macro"] == pytest.approx(best["value"], abs=1e-6)
    assert max(row["f1_macro"] for row in run.read_json(run.log_history)) == pytest.approx(best["value"], abs=1e-6)
    assert not list(run.hp_search.glob("trial-*"))  # the best model moved, not copied; the other trials deleted
    assert list(run.tensorboard.glob("trial-*/events.out.tfevents.*"))


def test_interrupted_trials_are_failed_and_not_counted_on_resume(tmp_path: Path) -> None:
    config = load_config(CONFIGS / "quickstart.yaml", ["hp_search.enabled=true"])
    run = RunDir(tmp_path / "run")
    study = open_study(config, run)
    study.ask()  # a trial left RUNNING, as by a killed search
    reopened = open_study(config, run)
    assert [trial.state for trial in reopened.trials] == [optuna.trial.TrialState.FAIL]
    assert run.study_db.is_file()


@pytest.mark.slow
def test_killed_search_resumes_where_it_stopped(seeded_hub, tmp_path: Path) -> None:
    data = write_sample_dataset(tmp_path / "comments.csv", rows_per_label=30)
    command = [
        sys.executable, "-m", "hubtools.train", "--config", str(CONFIGS / "quickstart.yaml"), "--output-dir", str(tmp_path / "run"),
        f"data.path={data}", "training.max_length=32", "training.num_train_epochs=2", "hp_search.enabled=true",
        "hp_search.n_trials=2", "hp_search.pruner=none", "hp_search.batch_sizes=[32]",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "run" / "hp_search" / "trial-1" / "checkpoints").glob("checkpoint-*")):
        assert process.poll() is None and time.monotonic() < deadline, "search ended before the second trial's first epoch"
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run = RunDir(tmp_path / "run")
    states = [trial["state"] for trial in json.loads(run.trials.read_text())]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]  # trial 0 kept, the killed trial failed, one more run
    assert run.metrics.exists() and not list(run.hp_search.glob("trial-*"))


def test_search_refuses_several_processes_before_writing(tmp_path: Path) -> None:
    accelerate = Path(sys.executable).with_name("accelerate")
    result = subprocess.run(
        [str(accelerate), "launch", "--config_file", "accelerate_config.multi_cpu.yaml", "--main_process_port", str(free_port()),
         "-m", "hubtools.train", "--config", "configs/roberta-base-sentiment140.yaml", "--output-dir", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=CONFIGS.parent, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Error: hp_search: the Optuna search runs in one process" in result.stderr
    assert not (tmp_path / "run").exists()
