"""The `hubtools` command line, in the style of the `hf` CLI: one module per command group.

Each module parses options and calls a library function with explicit arguments; `cli.errors` turns
every exception into one line and an exit status. Heavy libraries (torch, transformers, gradio) are
imported inside the commands so `hubtools --help` stays fast.
"""

from __future__ import annotations

import os

import typer

from hubtools.cli.audit import audit_command
from hubtools.cli.card import card_command
from hubtools.cli.compare import compare_command
from hubtools.cli.dataset import dataset_app
from hubtools.cli.errors import DEBUG_ENV, run_cli
from hubtools.cli.evaluate import evaluate_command
from hubtools.cli.export import export_command
from hubtools.cli.hub import hub_app
from hubtools.cli.output import HELP_MARKUP, VERBOSE_ENV, configure_logging
from hubtools.cli.publish import publish_command
from hubtools.cli.quickstart import quickstart_command
from hubtools.cli.reproduce import reproduce_command
from hubtools.cli.space import space_app
from hubtools.cli.train import TRAIN_CONTEXT, train_command
from hubtools.cli.verify import verify_command

app = typer.Typer(
    name="hubtools",
    help=(
        "Train a text classifier, report on it, write its cards and publish it with a demo Space "
        "to the Hugging Face Hub (or to the embedded Hub: `hubtools hub serve`).\n\n"
        "Start with `hubtools quickstart`: it runs the whole loop locally."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=HELP_MARKUP,
)


@app.callback()
def global_options(
    debug: bool = typer.Option(False, "--debug", help="On an error, print the traceback too (or set HUBTOOLS_DEBUG=1)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show the libraries' INFO logs (or set HUBTOOLS_VERBOSE=1)."),
) -> None:
    """Options for every command; child processes (accelerate, the Space) inherit them through the environment."""
    if debug:
        os.environ[DEBUG_ENV] = "1"
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        configure_logging(verbose=True)


app.add_typer(hub_app, name="hub")
app.command("train", context_settings=TRAIN_CONTEXT)(train_command)
app.command("evaluate")(evaluate_command)
app.command("card")(card_command)
app.command("compare")(compare_command)
app.command("export")(export_command)
app.add_typer(dataset_app, name="dataset")
app.add_typer(space_app, name="space")
app.command("publish")(publish_command)
app.command("verify")(verify_command)
app.command("reproduce")(reproduce_command)
app.command("audit")(audit_command)
app.command("quickstart")(quickstart_command)


def main() -> None:
    """Console entry point (`hubtools`)."""
    run_cli(app)


__all__ = ["app", "main"]
