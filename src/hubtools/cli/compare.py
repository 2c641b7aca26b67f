"""`hubtools compare`: runs scored on the same test split, side by side."""

from __future__ import annotations

from pathlib import Path

import typer


def compare_command(
    runs: list[Path] = typer.Argument(..., help="Run directories evaluated on the same test split (two or more)."),
    out: Path = typer.Option(..., "--out", help="Folder for comparison.md, comparison.json and comparison.png."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing comparison."),
) -> None:
    """Compare runs on their shared test split: metrics with 95% intervals, paired significance vs the best, size, speed."""
    from hubtools.compare import compare_runs, write_comparison

    comparison = compare_runs(runs)
    markdown = write_comparison(comparison, out, overwrite=overwrite)
    typer.echo(f"{markdown}: {len(comparison.runs)} runs compared; best by F1 macro: {comparison.best}")
