"""`hubtools compare`: several runs scored on the same test split, side by side, with paired significance.

    compare_runs([run_a, run_b, ...]) -> Comparison      refuses runs whose test splits differ
    write_comparison(comparison, out_dir)                 comparison.json, comparison.md, comparison.png

Each run's numbers come from its report (`hubtools evaluate` runs first when there is none): test
metrics with their bootstrap intervals and the per-row predictions, which the paired bootstrap of every
run against the best one (highest F1 macro) needs. Parameters are counted from the safetensors header,
training time and throughput come from environment.json.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from hubtools.errors import InputError
from hubtools.metrics.uncertainty import INTERVAL_METRICS, paired_bootstrap_test
from hubtools.rundir import RunDir, write_json_atomic

COMPARED_METRIC = "f1_macro"
COMPARISON_FILES = {"json": "comparison.json", "markdown": "comparison.md", "plot": "comparison.png"}


class CompareError(InputError):
    """Runs that cannot be compared (different test splits, too few runs, a run without a model or report)."""


@dataclass
class RunScores:
    name: str
    path: str
    base_model: str
    label_names: list[str]
    metrics: dict[str, float]
    intervals: dict[str, dict[str, float]]
    parameters: int | None
    train_time_s: float | None
    train_samples_per_second: float | None
    config: dict[str, Any]
    vs_best: dict[str, Any] | None = None  # paired bootstrap: best minus this run
    relative_gain: float | None = None  # best's F1 macro over this run's, minus 1


@dataclass
class Comparison:
    test_split_sha256: str
    test_rows: int
    metric: str
    best: str
    runs: list[RunScores] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def run(self, name: str) -> RunScores:
        return next(run for run in self.runs if run.name == name)


def hash_test_split(run: RunDir) -> str:
    """sha256 of the test split's texts and labels, in order: equal hashes mean the same test split."""
    run.require(run.split("test"))
    frame = pd.read_parquet(run.split("test"), columns=["text", "label"])
    digest = hashlib.sha256()
    for text, label in zip(frame["text"].astype(str), frame["label"].astype(str)):
        digest.update(json.dumps([text, label]).encode("utf-8"))
    return digest.hexdigest()


def count_parameters(model_dir: Path) -> int | None:
    """Parameters in model.safetensors, read from its header (no weights loaded)."""
    path = model_dir / "model.safetensors"
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    return int(sum(np.prod(tensor["shape"], dtype=np.int64) for name, tensor in header.items() if name != "__metadata__"))


def _run_scores(run: RunDir) -> tuple[RunScores, np.ndarray, np.ndarray]:
    from hubtools.config import config_to_dict, load_config
    from hubtools.evaluation import ensure_report

    run.require(run.config)
    config = load_config(run.config)
    report = ensure_report(run, config)
    predictions_file = run.report / report.get("files", {}).get("predictions", "predictions.parquet")
    if not predictions_file.is_file():
        raise CompareError(f"{predictions_file}: missing; re-run `hubtools evaluate --run {run.root} --overwrite` to write per-row predictions")
    predictions = pd.read_parquet(predictions_file)
    names = report["label_names"]
    training = (run.read_json(run.environment) if run.environment.is_file() else {}).get("training", {})
    scores = RunScores(
        name=run.root.name,
        path=str(run.root),
        base_model=config.model,
        label_names=names,
        metrics={key: report[key] for key in ("accuracy", "f1_macro", "f1_weighted", "f1") if key in report},
        intervals=report.get("intervals", {}),
        parameters=count_parameters(run.model),
        train_time_s=training.get("train_runtime_s"),
        train_samples_per_second=training.get("train_samples_per_second"),
        config={"model": config.model, **{key: value for key, value in config_to_dict(config)["training"].items()}},
    )
    ids = {name: index for index, name in enumerate(names)}
    return scores, predictions["predicted"].map(ids).to_numpy(), predictions["label"].map(ids).to_numpy()


def compare_runs(run_dirs: Sequence[str | Path]) -> Comparison:
    """Score every run on the shared test split and test each against the best (paired bootstrap on F1 macro).

    Args:
        run_dirs: two or more run directories, each trained and evaluated on the same test split.

    Raises:
        CompareError: fewer than two runs, or runs whose test splits differ.
    """
    runs = [RunDir(Path(path)) for path in run_dirs]
    if len(runs) < 2:
        raise CompareError("compare needs at least two run directories")
    if len({run.root.name for run in runs}) < len(runs):
        raise CompareError(f"run directories must have different names to be told apart: {', '.join(str(run.root) for run in runs)}")
    hashes = [hash_test_split(run) for run in runs]
    for run, digest in zip(runs[1:], hashes[1:]):
        if digest != hashes[0]:
            raise CompareError(
                f"{run.root}: its test split differs from {runs[0].root}'s (sha256 of texts+labels {digest[:12]} vs {hashes[0][:12]}); "
                "compare runs evaluated on the same test split"
            )
    scored = [_run_scores(run) for run in runs]
    labels = scored[0][0].label_names
    for scores, _, _ in scored[1:]:
        if scores.label_names != labels:
            raise CompareError(f"{scores.path}: labels {scores.label_names} differ from {scored[0][0].path}'s {labels}; compare runs of the same task")
    best_index = max(range(len(scored)), key=lambda index: scored[index][0].metrics[COMPARED_METRIC])
    best, best_predictions, references = scored[best_index]
    for scores, predictions, _ in scored:
        if scores is best:
            continue
        scores.vs_best = paired_bootstrap_test(best_predictions, predictions, references, len(labels)).as_dict()
        worse = scores.metrics[COMPARED_METRIC]
        scores.relative_gain = best.metrics[COMPARED_METRIC] / worse - 1 if worse > 0 else None
    return Comparison(hashes[0], len(references), COMPARED_METRIC, best.name, [scores for scores, _, _ in scored])


def plot_comparison(comparison: Comparison, path: Path) -> None:
    """Horizontal bars of each run's test F1 macro and accuracy with their 95% intervals."""
    from hubtools.plotting import drawable, pyplot

    plt = pyplot()
    names = [drawable(run.name) for run in comparison.runs]
    positions = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(7, 1.2 + 0.8 * len(names)), constrained_layout=True)
    for offset, key in ((-0.2, "f1_macro"), (0.2, "accuracy")):
        values = np.array([run.metrics[key] for run in comparison.runs])
        lows = np.array([run.intervals.get(key, {}).get("low", value) for run, value in zip(comparison.runs, values)])
        highs = np.array([run.intervals.get(key, {}).get("high", value) for run, value in zip(comparison.runs, values)])
        axis.barh(positions + offset, values, height=0.38, xerr=[values - lows, highs - values], capsize=3, label=key.replace("_", " "))
    axis.set(yticks=positions, xlim=(0, 1), xlabel="Test score (95% bootstrap interval)", title=f"{comparison.test_rows} test rows")
    axis.set_yticklabels(names)
    axis.invert_yaxis()
    axis.legend(loc="lower right")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def render_comparison_markdown(comparison: Comparison) -> str:
    import jinja2

    from hubtools.formatting import format_duration, format_gain, format_p, format_parameters
    from hubtools.metrics import metric_name
    from hubtools.resources import cards_dir

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(cards_dir()), trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(duration=format_duration, parameters=format_parameters, gain=format_gain, p=format_p)
    return environment.get_template("comparison.md.j2").render(
        comparison=comparison, interval_metrics=INTERVAL_METRICS, metric_name=metric_name, files=COMPARISON_FILES
    )


def write_comparison(comparison: Comparison, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write comparison.json, comparison.md and comparison.png into `out_dir`; returns comparison.md.

    Args:
        comparison: from `compare_runs`.
        out_dir: the folder to write into (created).
        overwrite: replace a comparison already there.

    Raises:
        CompareError: `out_dir` holds a comparison and `overwrite` is False.
    """
    out = Path(out_dir)
    markdown = out / COMPARISON_FILES["markdown"]
    if markdown.exists() and not overwrite:
        raise CompareError(f"{markdown}: a comparison already exists; pass --overwrite or another --out")
    out.mkdir(parents=True, exist_ok=True)
    plot_comparison(comparison, out / COMPARISON_FILES["plot"])
    write_json_atomic(out / COMPARISON_FILES["json"], comparison.as_dict())
    markdown.write_text(render_comparison_markdown(comparison), encoding="utf-8")
    return markdown


def comparison_from_dict(payload: dict[str, Any]) -> Comparison:
    """A `Comparison` back from its comparison.json (`Comparison.as_dict`)."""
    runs = [RunScores(**run) for run in payload["runs"]]
    return Comparison(**{**payload, "runs": runs})
