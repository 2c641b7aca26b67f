"""What the commands print: quiet by default (progress bars and results), library logs with --verbose."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from enum import Enum
from typing import Any

import typer

VERBOSE_ENV = "HUBTOOLS_VERBOSE"
# Every Typer's help: click's plain formatter, which wraps to any width and never cuts an option name or a default
# (rich's boxed tables cut them with "…" below about 100 columns, e.g. `--replace-edited-ca…` without a terminal).
HELP_MARKUP = None


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


FormatOption = typer.Option(OutputFormat.text, "--format", help="text for people, json: one JSON document on stdout for CI.")


def verbose_enabled() -> bool:
    return os.environ.get(VERBOSE_ENV, "").lower() not in ("", "0", "false", "no")


def configure_logging(verbose: bool) -> None:
    """Quiet: warnings only, without transformers' weight-loading report or huggingface_hub's retry chatter, and
    progress bars (training, uploads, downloads) only on a terminal; verbose: INFO from every library, and the bars.

    The libraries set their own level from these variables when imported (also in child processes).
    """
    library_levels = {
        "TRANSFORMERS_VERBOSITY": ("transformers", "info" if verbose else "warning"),
        "HF_HUB_VERBOSITY": ("huggingface_hub", "info" if verbose else "error"),
        "DATASETS_VERBOSITY": ("datasets", "info" if verbose else "error"),
    }
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    for variable, (logger_name, level) in library_levels.items():
        if verbose:
            os.environ[variable] = level
        else:
            os.environ.setdefault(variable, level)
        logging.getLogger(logger_name).setLevel(os.environ[variable].upper())
    for chatty in ("httpx", "httpx2", "httpcore", "urllib3", "accelerate"):
        logging.getLogger(chatty).setLevel(logging.NOTSET if verbose else logging.WARNING)
    # the "LOAD REPORT ... MISSING" table (a fresh classification head is missing by design) and
    # tensor-parallel notes on a single CPU process
    for loader in ("transformers.modeling_utils", "transformers.distributed.tensor_parallel"):
        logging.getLogger(loader).setLevel(logging.NOTSET if verbose else logging.ERROR)
    if not verbose:
        # datasets' "Generating train split" / "Map" bars on local files; download bars are huggingface_hub's
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if not verbose and not (sys.stdout.isatty() and sys.stderr.isatty()) and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ:
        # Without a terminal every tqdm update is a new line. huggingface_hub (imported already) is switched here;
        # transformers, Trainer (hubtools.train) and child processes read the variable.
        from huggingface_hub.utils import disable_progress_bars

        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        disable_progress_bars()


def emit_json(document: Any) -> None:
    """The one JSON document a `--format json` command writes on stdout."""
    typer.echo(json.dumps(document, indent=2, default=str))


@contextmanager
def stdout_reserved_for_json(output_format: OutputFormat) -> Iterator[None]:
    """With --format json, whatever else is printed (progress, Trainer logs, plans) goes to stderr."""
    if output_format != OutputFormat.json:
        yield
        return
    with redirect_stdout(sys.stderr):
        yield


def echo_for(output_format: OutputFormat):
    """Where a command's human-readable lines go: stdout, or stderr when stdout carries JSON."""
    return lambda line: typer.echo(line, err=output_format == OutputFormat.json)
