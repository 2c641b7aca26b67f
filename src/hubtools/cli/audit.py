"""`hubtools audit`: check any text-classification model repo's card; optionally propose fixes as a pull request."""

from __future__ import annotations

from pathlib import Path

import typer


def audit_command(
    repo: str = typer.Argument(..., help="Model repo ORG/NAME (any text-classification model)."),
    dataset: str | None = typer.Option(None, "--dataset", help="Hub dataset repo to re-evaluate the claims on (default: each claim's own)."),
    split: str | None = typer.Option(None, "--split", help="Split to re-evaluate on (default: each claim's own)."),
    column_map: str | None = typer.Option(None, "--column-map", help="Dataset columns, e.g. text=sentence,label=sentiment."),
    pr: bool = typer.Option(False, "--pr", help="Open a pull request with the corrected model-index and an Audit section."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit of the model repo (default main)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for audit.md/.json (default: ~/.cache/hubtools/audit/ORG--NAME)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the stored login).", show_default=False),
) -> None:
    """Audit a model card: metadata, template sections, model-index claims, labels, widgets. Exit 6 on a problem, 8 when no claim could be checked."""
    from hubtools.audit import AuditOptions, audit_repo, parse_column_map
    from hubtools.cli.errors import EXIT_CLAIMS_DIFFER, EXIT_UNVERIFIABLE

    result = audit_repo(AuditOptions(repo, out, revision, dataset, split, parse_column_map(column_map), pr, endpoint, token))
    typer.echo(result.summary())
    typer.echo(f"Report: {result.report}")
    if result.verdict != "no problems":
        raise typer.Exit(EXIT_CLAIMS_DIFFER if result.verdict == "problems" else EXIT_UNVERIFIABLE)
