"""`evaluate.sample_size`: validation/test scored on a seeded sample; evaluate, the card and verify use the same rows."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from hubtools.config import ConfigError, EvaluateConfig, config_from_dict, load_config, save_config
from hubtools.verify import DEFAULT_SAMPLE, rows_to_verify


def test_sample_rows_are_seeded_in_file_order_and_checked() -> None:
    rows = EvaluateConfig(sample_size=50, sample_seed=7).rows(1000)
    assert rows == EvaluateConfig(sample_size=50, sample_seed=7).rows(1000) != EvaluateConfig(sample_size=50, sample_seed=8).rows(1000)
    assert len(rows) == 50 == len(set(rows)) and rows == sorted(rows) and max(rows) < 1000
    assert EvaluateConfig(sample_size=1000).rows(1000) is None and EvaluateConfig().rows(10**6) is None
    with pytest.raises(ConfigError, match="evaluate.sample_size must be a positive"):
        config_from_dict({"evaluate": {"sample_size": 0}})


def test_evaluate_and_verify_score_the_runs_sample(tmp_path_factory) -> None:
    from publishing_support import copy_of_trained_run

    from hubtools.evaluation import evaluate_run

    run = copy_of_trained_run(tmp_path_factory, "sampled")
    total = len(pd.read_parquet(run.split("test")))
    config = load_config(run.config)
    save_config(dataclasses.replace(config, evaluate=EvaluateConfig(sample_size=total // 2, sample_seed=3)), run.config)

    report = evaluate_run(run.root, overwrite=True)
    assert report["rows"] == total // 2 and report["sampled_from"] == total and report["sample_seed"] == 3

    rows, metrics_checked = rows_to_verify(run, total, sample=None)
    assert rows == EvaluateConfig(sample_size=total // 2, sample_seed=3).rows(total) and metrics_checked
    assert rows_to_verify(run, total, sample=0) == (None, True)
    random_rows, metrics_checked = rows_to_verify(run, total, sample=3)
    assert len(random_rows) == 3 and not metrics_checked


def test_verify_checks_a_default_sample_of_a_large_split(tmp_path_factory) -> None:
    from publishing_support import copy_of_trained_run

    run = copy_of_trained_run(tmp_path_factory, "large")
    rows, metrics_checked = rows_to_verify(run, 50_000, sample=None)
    assert len(rows) == DEFAULT_SAMPLE and not metrics_checked
    assert rows_to_verify(run, DEFAULT_SAMPLE, sample=None) == (None, True)
