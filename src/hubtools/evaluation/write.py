"""The files of a report folder (RUN/report/ or `--out`) and the words that describe its scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hubtools.evaluation.build import BuiltReport
from hubtools.evaluation.plots import plot_confusion_matrix, plot_reliability
from hubtools.evaluation.predict import ReportError
from hubtools.label_noise import LABEL_ISSUES_FILE
from hubtools.metrics import metric_name
from hubtools.resources import cards_dir
from hubtools.rundir import RunDir, write_json_atomic

MISCLASSIFIED_SAMPLE = 50
REPORT_FILES = {
    "confusion_matrix": "confusion_matrix.png",
    "reliability": "reliability_diagram.png",
    "misclassified": "misclassified.csv",
    "predictions": "predictions.parquet",  # every test row: what `hubtools compare` pairs runs on
    "label_issues": LABEL_ISSUES_FILE,  # rows flagged as likely mislabelled (hubtools.label_noise)
    "report": "report.md",
}
PREDICTION_COLUMNS = pd.Index(["text", "label", "predicted", "confidence", "baseline_predicted", "likely_label_noise"])
SCALAR_KEYS = (
    "accuracy", "f1_macro", "f1_weighted", "precision_macro", "recall_macro",
    "precision_weighted", "recall_weighted", "f1", "precision", "recall",
)


def write_report(built: BuiltReport, output_dir: Path, overwrite: bool = False) -> dict[str, Any]:
    """Write metrics.json, the two figures, misclassified.csv, predictions.parquet, label_issues.csv and report.md.

    Args:
        built: the assembled report (`build_report`).
        output_dir: the report folder (created when missing).
        overwrite: replace a report already there.

    Returns:
        What metrics.json holds: the report's metrics and the names of its files.

    Raises:
        ReportError: `output_dir` already holds a report and `overwrite` is off.
    """
    output_dir = Path(output_dir)
    metrics_path = output_dir / "metrics.json"
    if metrics_path.exists() and not overwrite:
        raise ReportError(f"{metrics_path}: a report already exists; pass --overwrite to replace it or --out to write elsewhere")
    output_dir.mkdir(parents=True, exist_ok=True)
    report, scored = built.metrics, built.scored
    plot_confusion_matrix(report["confusion_matrix"], report["label_names"], output_dir / REPORT_FILES["confusion_matrix"])
    plot_reliability(report["calibration_bins"], report["ece"], output_dir / REPORT_FILES["reliability"])
    errors = scored[scored["predicted"] != scored["label"]].sort_values("confidence", ascending=False, kind="stable")
    errors.head(MISCLASSIFIED_SAMPLE).to_csv(output_dir / REPORT_FILES["misclassified"], index=False)
    scored[PREDICTION_COLUMNS.intersection(scored.columns, sort=False)].to_parquet(output_dir / REPORT_FILES["predictions"], index=False)
    built.label_issues.to_csv(output_dir / REPORT_FILES["label_issues"], index=False)
    report = report | {"files": dict(REPORT_FILES)}
    (output_dir / "report.md").write_text(render_report_markdown(report), encoding="utf-8")
    write_json_atomic(metrics_path, report)
    return report


def load_report(run_dir: str | Path) -> dict[str, Any]:
    """What RUN/report/metrics.json holds.

    Raises:
        InputFileError: the run has no report (run `hubtools evaluate --run RUN`).
    """
    run = RunDir(Path(run_dir))
    return run.read_json(run.report / "metrics.json")


def render_report_markdown(report: dict[str, Any]) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(cards_dir()), trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    from hubtools.formatting import format_p_clause

    environment.filters["p_clause"] = format_p_clause
    return environment.get_template("report.md.j2").render(report=report, scalar_keys=SCALAR_KEYS, metric_name=metric_name)


def describe_scores(scores: dict[str, Any], positive_label: str | None, baseline: dict[str, Any] | None = None) -> str:
    """The scores `train` and `evaluate` print, the task's metric first (as the card leads with it): "F1 (irony) 0.5926,
    F1 (macro) 0.6809, accuracy 0.7003 (TF-IDF baseline: F1 (irony) 0.6012, F1 (macro) 0.6462)"."""
    shown = ["f1", "f1_macro"] if "f1" in scores else ["f1_macro"]  # only binary tasks have the positive class's `f1`

    def listed(values: dict[str, Any]) -> str:
        return ", ".join(f"{metric_name(key, positive_label)} {values[key]:.4f}" for key in shown)

    line = f"{listed(scores)}, accuracy {scores['accuracy']:.4f}"
    return line + (f" (TF-IDF baseline: {listed(baseline)})" if baseline else "")

