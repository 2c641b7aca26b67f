"""One run end to end: train once (`hubtools.train`) or search (`hubtools.search`), then evaluate the saved model.

Python API: `run_training(config, output_dir=None, resume=False) -> RunDir`. Search builds on training,
so this module is where the two meet: `train` never imports `search`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from hubtools.config import ConfigError, RunConfig
from hubtools.rundir import RunDir, write_json_atomic
from hubtools.train import (
    OPTIMIZER,
    check_run_dir,
    configure_torch_threads,
    distributed_state,
    evaluate_saved_model,
    prepare_training_data,
    resolve_precision,
    train_once,
)

logger = logging.getLogger(__name__)


def run_training(config: RunConfig, output_dir: str | Path | None = None, resume: bool = False) -> RunDir:
    """Train (or search, with `hp_search.enabled`) and fill the run directory; returns it."""
    run = RunDir(Path(output_dir or config.output_dir))
    config = dataclasses.replace(config, output_dir=str(run.root))
    state = distributed_state()
    if config.hp_search.enabled and state.num_processes > 1:
        raise ConfigError("hp_search: the Optuna search runs in one process; launch it without multiple processes (or disable hp_search)")
    if config.distillation.teacher:
        from hubtools.distill import check_distillation

        check_distillation(config)
    if state.is_main_process:
        check_run_dir(run, config, resume)
    state.wait_for_everyone()
    if resume and run.metrics.exists():
        logger.info("%s is already complete; nothing to resume", run.root)
        return run
    threads_reason = configure_torch_threads(config.training.threads)  # once there is training to do
    data = prepare_training_data(config, run, state)
    if config.distillation.teacher:
        from hubtools.distill import with_teacher_logits

        texts = data.splits["train"]["text"].astype(str).tolist()
        data = dataclasses.replace(data, tokenized=with_teacher_logits(config, texts, data.tokenized, data.label_names))
    precision = resolve_precision(config)
    if state.is_main_process:
        from hubtools.environment import collect_environment

        write_json_atomic(run.environment, collect_environment(precision, OPTIMIZER, state.num_processes, state.backend, threads_reason))
    if config.hp_search.enabled:
        from hubtools.search import run_search

        summary = run_search(config, run, data)
    else:
        summary = train_once(config, run, data, resume=resume)
    state.wait_for_everyone()
    metrics = evaluate_saved_model(config, run, data)
    if state.is_main_process:
        from hubtools.environment import base_model_revision

        environment = run.read_json(run.environment) | {"training": summary, "base_model_revision": base_model_revision(config.model)}
        write_json_atomic(run.environment, environment)
        write_json_atomic(run.metrics, metrics)
    return run
