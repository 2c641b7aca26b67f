"""`hubtools train` (also `python -m hubtools.train` and `accelerate launch -m hubtools.train`)."""

from __future__ import annotations

from pathlib import Path

import typer

from hubtools.cli.errors import run_cli
from hubtools.cli.output import HELP_MARKUP, FormatOption, OutputFormat, emit_json, stdout_reserved_for_json

TRAIN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def train_command(
    ctx: typer.Context,
    config: Path = typer.Option(..., "--config", "-c", help="Run config YAML (see configs/)."),
    output_dir: Path | None = typer.Option(None, "--output-dir", "-o", help="Run directory (default: output_dir in the config)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run from its last checkpoint (same config)."),
    output_format: OutputFormat = FormatOption,
) -> None:
    """Fine-tune a text classifier and write the run directory.

    Override any config field after the options with its dotted key: `--training.learning_rate 3e-5`,
    `--training.learning_rate=3e-5` or `training.learning_rate=3e-5`. Unknown keys are an error.
    Multi-GPU / multi-node: `accelerate launch --config_file accelerate_config.yaml -m hubtools.train --config ...`.
    """
    from hubtools.config import load_config, split_override_args
    from hubtools.fit import run_training
    from hubtools.train.arguments import distributed_state

    run_config = load_config(config, split_override_args(ctx.args))
    with stdout_reserved_for_json(output_format):
        run = run_training(run_config, output_dir=output_dir, resume=resume)
    if not distributed_state().is_main_process:
        return
    metrics = run.read_json(run.metrics)
    if output_format == OutputFormat.json:
        emit_json({"run_dir": str(run.root), "metrics": metrics})
    else:
        from hubtools.evaluation import run_positive_label
        from hubtools.evaluation.write import describe_scores

        typer.echo(f"{run.root}: test {describe_scores(metrics['test'], run_positive_label(run))}")


def main() -> None:
    """`python -m hubtools.train`: the train command alone, for accelerate launch."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=HELP_MARKUP)
    app.command(context_settings=TRAIN_CONTEXT)(train_command)
    run_cli(app)
