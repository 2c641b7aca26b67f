"""`hubtools verify`: download a published model with pipeline() and check it against the run and its card."""

from __future__ import annotations

from pathlib import Path

import typer

from hubtools.cli.output import FormatOption, OutputFormat, emit_json, stdout_reserved_for_json


def verify_command(
    repo: str = typer.Option(..., "--repo", help="Model repo ORG/NAME to check."),
    run: Path = typer.Option(..., "--run", help="The run directory it was published from (its test split, model and metrics are what the repo is checked against)."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit to check."),
    sample: int | None = typer.Option(
        None,
        "--sample",
        help="Check predictions on N random test rows only (the card's metrics are then not checked, and the summary says so); 0: every row. "
        "Default: the rows the card was scored on, or 2000 random rows of a larger test split.",
    ),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the stored login).", show_default=False),
    output_format: OutputFormat = FormatOption,
) -> None:
    """Download a published model with pipeline() and check it against the run and its card."""
    from hubtools.hubclient import resolve_endpoint, resolve_token
    from hubtools.rundir import RunDir
    from hubtools.verify import verify_repo

    with stdout_reserved_for_json(output_format):
        report = verify_repo(repo, RunDir(run), endpoint=resolve_endpoint(endpoint), token=resolve_token(token), revision=revision, sample=sample)
    if output_format == OutputFormat.json:
        emit_json(verify_document(report))
    else:
        typer.echo(report.summary())


def verify_document(report) -> dict:
    """The verify report as JSON: rows checked, prediction agreement, each card metric with its recomputed value."""
    import dataclasses

    return dataclasses.asdict(report) | {"metrics": [dataclasses.asdict(check) | {"ok": check.ok} for check in report.metrics]}
