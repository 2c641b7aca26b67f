"""Optuna hyperparameter search around `train`, stored in the run directory so it can resume.

Each trial is a full Trainer run (learning rate log-uniform, batch size categorical) that reports
its validation score every epoch; the pruner stops trials below the median. The best trial's best
checkpoint becomes `RUN/model` as is: no retraining after the search. Every trial (params, score
per epoch, state, duration) is written to `RUN/hp_search/trials.json` for the card.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from transformers import TrainerCallback

from hubtools.config import ConfigError, RunConfig
from hubtools.rundir import RunDir, write_json_atomic
from hubtools.train import TrainingData, build_trainer
from hubtools.train.best_model import epoch_rows, save_best_model, training_summary

logger = logging.getLogger(__name__)

STUDY_NAME = "hubtools"
FINISHED = ("COMPLETE", "PRUNED")


def open_study(config: RunConfig, run: RunDir) -> optuna.Study:
    """The run's study in RUN/hp_search/study.db (created or reloaded), with its sampler and pruner."""
    search = config.hp_search
    if search.pruner not in {"median", "none"}:
        raise ConfigError(f"hp_search.pruner: unknown value {search.pruner!r}; use median or none")
    if search.direction not in {"maximize", "minimize"}:
        raise ConfigError(f"hp_search.direction: unknown value {search.direction!r}; use maximize or minimize")
    run.hp_search.mkdir(parents=True, exist_ok=True)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=search.pruner_startup_trials, n_warmup_steps=0)
        if search.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    storage = optuna.storages.RDBStorage(f"sqlite:///{run.study_db.resolve()}")
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        load_if_exists=True,
        direction=search.direction,
        sampler=optuna.samplers.TPESampler(seed=search.seed),
        pruner=pruner,
    )
    fail_interrupted_trials(storage)
    return study


def run_search(config: RunConfig, run: RunDir, data: TrainingData) -> dict[str, Any]:
    """Run the remaining trials, keep the best trial's model as RUN/model, write trials.json and log_history.json."""
    study = open_study(config, run)
    if not study.trials:
        for params in config.hp_search.first_trials:
            study.enqueue_trial(params)
    done = sum(trial.state.name in FINISHED for trial in study.trials)
    remaining = max(0, config.hp_search.n_trials - done)
    study.optimize(lambda trial: run_trial(trial, config, run, data), n_trials=remaining, callbacks=[keep_only_best_model(run)])
    write_json_atomic(run.trials, trials_report(study))
    best = study.best_trial
    best_model = trial_dir(run, best.number) / "model"
    if best_model.exists():  # absent when a resumed search had already moved it
        shutil.rmtree(run.model, ignore_errors=True)
        os.replace(best_model, run.model)
    for folder in run.hp_search.glob("trial-*"):  # what is left of trials that were pruned, failed or lost
        shutil.rmtree(folder)
    write_json_atomic(run.log_history, best.user_attrs["log_history"])
    return {
        "best_trial": best.number,
        "best_params": best.params,
        "best_metric": best.value,
        "metric_for_best_model": config.hp_search.objective_metric(config.training),
        "n_trials": len(study.trials),
    } | best.user_attrs["summary"]


def fail_interrupted_trials(storage: optuna.storages.RDBStorage) -> None:
    """Trials left RUNNING by a killed search are marked FAIL so they are neither counted nor resumed."""
    study_id = storage.get_study_id_from_name(STUDY_NAME)
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)


def trial_dir(run: RunDir, number: int) -> Path:
    return run.hp_search / f"trial-{number}"


def trial_config(trial: optuna.Trial, config: RunConfig) -> RunConfig:
    search = config.hp_search
    low, high = search.learning_rate
    training = dataclasses.replace(
        config.training,
        learning_rate=trial.suggest_float("learning_rate", low, high, log=True),
        per_device_train_batch_size=trial.suggest_categorical("per_device_train_batch_size", list(search.batch_sizes)),
        metric_for_best_model=search.objective_metric(config.training),
    )
    return dataclasses.replace(config, training=training)


def run_trial(trial: optuna.Trial, config: RunConfig, run: RunDir, data: TrainingData) -> float:
    config = trial_config(trial, config)
    folder = trial_dir(run, trial.number)
    shutil.rmtree(folder, ignore_errors=True)
    pruning = PruningCallback(trial, config.training.metric_for_best_model)
    trainer = build_trainer(
        config,
        data,
        checkpoints=folder / "checkpoints",
        tensorboard=run.tensorboard / f"trial-{trial.number}",
        callbacks=[pruning],
        greater_is_better=config.hp_search.direction == "maximize",
    )
    output = trainer.train()
    trial.set_user_attr("log_history", epoch_rows(trainer.state.log_history))
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    if pruning.pruned:
        shutil.rmtree(folder, ignore_errors=True)
        raise optuna.TrialPruned(f"trial {trial.number} pruned at epoch {pruning.last_epoch}")
    save_best_model(trainer, folder / "model")
    trial.set_user_attr("summary", training_summary(trainer, output.metrics, resumed_from=None))
    return trainer.state.best_metric


def keep_only_best_model(run: RunDir):
    """An Optuna callback deleting the models of all trials but the best so far: one model on disk."""

    def callback(study: optuna.Study, finished: optuna.trial.FrozenTrial) -> None:
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not completed:
            return
        best = study.best_trial.number
        for trial in completed:
            if trial.number != best:
                shutil.rmtree(trial_dir(run, trial.number), ignore_errors=True)

    return callback


def trials_report(study: optuna.Study) -> list[dict[str, Any]]:
    return [
        {
            "number": trial.number,
            "state": trial.state.name,
            "params": trial.params,
            "value": trial.value,
            "epoch_scores": {str(step): value for step, value in sorted(trial.intermediate_values.items())},
            "duration_s": trial.duration.total_seconds() if trial.duration else None,
            "started_at": trial.datetime_start.isoformat() if trial.datetime_start else None,
        }
        for trial in study.trials
    ]


class PruningCallback(TrainerCallback):
    """Report the validation score every epoch; stop training when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned, self.last_epoch = False, 0

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        epoch = round(state.epoch or 0)
        score = (metrics or {}).get(f"eval_{self.metric}")
        if score is None:
            raise ConfigError(f"hp_search.metric: '{self.metric}' is not among the evaluation metrics ({', '.join(metrics or {})})")
        self.trial.report(score, step=epoch)
        self.last_epoch = epoch
        if self.trial.should_prune():
            self.pruned = True
            control.should_training_stop = True
