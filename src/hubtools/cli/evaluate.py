"""`hubtools evaluate`: score a run's model (or any model on any labelled file) and write the report."""

from __future__ import annotations

from pathlib import Path

import typer

from hubtools.cli.output import FormatOption, OutputFormat, emit_json, stdout_reserved_for_json
from hubtools.errors import InputError


def evaluate_command(
    run: Path | None = typer.Option(None, "--run", help="Run directory: evaluate its model on its test split."),
    model: str | None = typer.Option(None, "--model", help="Model folder or Hub id (with --data)."),
    data: Path | None = typer.Option(None, "--data", help="Labelled CSV/JSONL/Parquet file (with --model)."),
    text_column: str = typer.Option("text", "--text-column", help="Column holding the text (with --data)."),
    label_column: str = typer.Option("label", "--label-column", help="Column holding the label name or id (with --data)."),
    slice_by: list[str] = typer.Option([], "--slice-by", help="Also report metrics per value of this column (repeatable)."),
    baseline_train: Path | None = typer.Option(None, "--baseline-train", help="Train file for the TF-IDF baseline (with --data; a run uses its train split)."),
    max_length: int = typer.Option(128, "--max-length", help="Tokens per text (with --model; a run uses its config)."),
    out: Path | None = typer.Option(None, "--out", help="Report folder (default: RUN/report, or ./report with --model)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing report."),
    output_format: OutputFormat = FormatOption,
) -> None:
    """Metrics, per-class scores, confusion matrix, misclassified examples and a TF-IDF baseline."""
    if (run is None) == (model is None) or (model is not None and data is None):
        raise InputError("pass either --run DIR, or --model PATH_OR_REPO_ID with --data FILE")
    from hubtools.evaluation import evaluate_model, evaluate_run
    from hubtools.evaluation.write import describe_scores
    from hubtools.label_noise import describe_label_noise
    from hubtools.rundir import RunDir

    with stdout_reserved_for_json(output_format):
        if run is not None:
            report = evaluate_run(run, slice_by, overwrite=overwrite, output_dir=out)
            destination = out or RunDir(run).report
        else:
            destination = out or Path("report")
            report = evaluate_model(model, data, destination, text_column, label_column, slice_by, baseline_train, max_length, overwrite)
    if output_format == OutputFormat.json:
        emit_json({"report_dir": str(destination), "report": report})
        return
    typer.echo(f"{destination}: {describe_scores(report, report['positive_label'], report.get('baseline'))}")
    typer.echo(describe_label_noise(report["label_noise"], destination))
