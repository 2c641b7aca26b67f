"""`hubtools reproduce`: retrain (or re-evaluate) a published model and check every number of its card."""

from __future__ import annotations

from pathlib import Path

import typer


def reproduce_command(
    repo: str = typer.Argument(..., help="Model repo ORG/NAME published with `hubtools publish`."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit of the model repo (default main)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for the downloads, the new run and reproduction.md/.json (default: ~/.cache/hubtools/reproduce/ORG--NAME)."),
    evaluate_only: bool = typer.Option(False, "--evaluate-only", help="Re-evaluate the published weights instead of retraining."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the stored login).", show_default=False),
) -> None:
    """Check every claim of a published card: exit 0 when all reproduce, 6 when one does not, 7 when the repo lacks what it needs."""
    from hubtools.cli.errors import EXIT_CANNOT_REPRODUCE, EXIT_CLAIMS_DIFFER
    from hubtools.reproduce import ReproduceOptions, reproduce

    result = reproduce(ReproduceOptions(repo, out, revision, evaluate_only, endpoint, token))
    for line in result.clamped:
        typer.echo(f"Adjusted: {line}")
    typer.echo(result.summary())
    typer.echo(f"Report: {result.report}")
    if result.verdict != "reproduced":
        raise typer.Exit(EXIT_CANNOT_REPRODUCE if result.verdict == "cannot reproduce" else EXIT_CLAIMS_DIFFER)
