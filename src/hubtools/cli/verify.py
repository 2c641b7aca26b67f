"""`hubtools verify`: download a published model with pipeline() and check it against the run and its card."""

from __future__ import annotations

from pathlib import Path

import typer


def verify_command(
    repo: str = typer.Option(..., "--repo", help="Model repo ORG/NAME to check."),
    run: Path = typer.Option(Path("runs/quickstart"), "--run", help="The run directory it was published from."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit to check."),
    sample: int | None = typer.Option(None, "--sample", help="Check predictions on N random test rows only (skips the metric check)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the stored login).", show_default=False),
) -> None:
    """Download a published model with pipeline() and check it against the run and its card."""
    from hubtools.hubclient import resolve_endpoint, resolve_token
    from hubtools.rundir import RunDir
    from hubtools.verify import verify_repo

    report = verify_repo(repo, RunDir(run), endpoint=resolve_endpoint(endpoint), token=resolve_token(token), revision=revision, sample=sample)
    typer.echo(report.summary())
