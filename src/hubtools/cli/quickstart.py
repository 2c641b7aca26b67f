"""`hubtools quickstart`: the whole loop on this machine, against an embedded Hub."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer


def quickstart_command(
    root: Path | None = typer.Option(None, "--root", help="Folder for the Hub's data, the run and caches (default: a new temp folder)."),
    port: int | None = typer.Option(None, "--port", help="Port of the embedded Hub (default: a free one)."),
    serve: bool | None = typer.Option(
        None,
        "--serve/--no-serve",
        help="At the end keep the embedded Hub and the demo Space running until Ctrl+C (default: when run from a terminal).",
        show_default=False,
    ),
    overrides: list[str] = typer.Option([], "--set", help="Override the quickstart config, e.g. --set training.num_train_epochs=1 (repeatable)."),
) -> None:
    """Run the whole loop locally: embedded Hub, train, evaluate, cards, publish (model, dataset, Space), verify."""
    from hubtools.publish import xet_upload_streams
    from hubtools.quickstart import run_quickstart

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    root = root or Path(tempfile.mkdtemp(prefix="hubtools-quickstart-"))
    with xet_upload_streams(None):  # from the start: training's base-model download opens the process's Xet session
        run_quickstart(root, port, interactive if serve is None else serve, overrides, echo=typer.echo)
