"""The `hubtools` command line, in the style of the `hf` CLI.

Each stage module owns its command; this file only wires them together. Heavy libraries
(torch, transformers, gradio) are imported inside the commands so `hubtools --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from hubtools.errors import HubtoolsError
from hubtools.hub.cli import hub_app
from hubtools.train import TRAIN_CONTEXT, train_command
from hubtools.cards import card_command
from hubtools.labelling import dataset_app
from hubtools.report import evaluate_command
from hubtools.publish import publish_command
from hubtools.quickstart import quickstart_command
from hubtools.space import space_app
from hubtools.verify import verify_command

app = typer.Typer(
    name="hubtools",
    help=(
        "Train a text classifier, report on it, write its cards and publish it with a demo Space "
        "to the Hugging Face Hub (or to the embedded Hub: `hubtools hub serve`).\n\n"
        "Start with `hubtools quickstart`: it runs the whole loop locally."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

app.add_typer(hub_app, name="hub")
app.command("train", context_settings=TRAIN_CONTEXT)(train_command)
app.command("evaluate")(evaluate_command)
app.command("card")(card_command)


@app.command("compare")
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
app.add_typer(dataset_app, name="dataset")
app.add_typer(space_app, name="space")
app.command("publish")(publish_command)
app.command("verify")(verify_command)
app.command("quickstart")(quickstart_command)


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit status 2."""
    try:
        app(standalone_mode=True)
    except HubtoolsError as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
