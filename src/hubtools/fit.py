"""One run end to end: train once (`hubtools.train`) or search (`hubtools.search`), then evaluate the saved model.

Python API: `run_training(config, output_dir=None, resume=False, downloads=None) -> RunDir`. Search builds on training,
so this module is where the two meet: `train` never imports `search`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING
from pathlib import Path

from hubtools.config import ConfigError, RunConfig
from hubtools.rundir import RunDir, write_json_atomic
from hubtools.train import evaluate_saved_model, prepare_training_data, train_once
from hubtools.train.arguments import OPTIMIZER, configure_torch_threads, distributed_state, resolve_precision, with_selection_metric
from hubtools.train.run_dir import check_run_dir, launch_command

if TYPE_CHECKING:
    from hubtools.downloads import HubDownloads

logger = logging.getLogger(__name__)


def run_training(
    config: RunConfig, output_dir: str | Path | None = None, resume: bool = False, downloads: HubDownloads | None = None
) -> RunDir:
    """Train (or search, with `hp_search.enabled`) and fill the run directory; returns it.

    Args:
        config: the run's config.
        output_dir: the run directory (default `config.output_dir`).
        resume: continue the run already in `output_dir` from its last checkpoint.
        downloads: the Hub the base model (and a `data.hub_id` dataset) come from; None: the process's HF_ENDPOINT.

    Raises:
        ConfigError: a search asked for in several processes.
        RunDirError: `output_dir` holds another run, or `resume` finds none or a different config.
        InputError: the data or the base model cannot be used (DataError, HubUnreachableError, ...).
    """
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
    data = prepare_training_data(config, run, state, downloads)
    config = with_selection_metric(config, data.label_names)  # config.yaml keeps what was asked (unset: the task's metric)
    if config.distillation.teacher:
        from hubtools.distill import with_teacher_logits

        texts = data.splits["train"]["text"].astype(str).tolist()
        data = dataclasses.replace(data, tokenized=with_teacher_logits(config, texts, data.tokenized, data.label_names))
    precision = resolve_precision(config)
    if state.is_main_process:
        from hubtools.environment import collect_environment

        environment = collect_environment(precision, OPTIMIZER, state.num_processes, state.backend, threads_reason)
        write_json_atomic(run.environment, environment | {"command": launch_command()})
    if config.hp_search.enabled:
        from hubtools.search import run_search

        summary = run_search(config, run, data)
    else:
        summary = train_once(config, run, data, resume=resume)
    state.wait_for_everyone()
    metrics = evaluate_saved_model(config, run, data)
    if state.is_main_process:
        from hubtools.environment import base_model_revision

        environment = run.read_json(run.environment) | {"training": summary, "base_model_revision": base_model_revision(config.model, downloads and downloads.cache_dir)}
        write_json_atomic(run.environment, environment)
        write_json_atomic(run.metrics, metrics)
    return run
