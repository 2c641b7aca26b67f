"""`hubtools export`: ONNX copies of a run's model (fp32 and int8) for fast CPU inference."""

from __future__ import annotations

from pathlib import Path

import typer


def export_command(
    run: Path = typer.Option(..., "--run", help="Run directory: exports RUN/model to RUN/model/onnx/."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing RUN/model/onnx/."),
) -> None:
    """ONNX copies of the model for fast CPU inference: fp32 and int8 (dynamic quantization)."""
    from hubtools.export import export_run

    exported = export_run(run, overwrite=overwrite)
    typer.echo(f"{exported.fp32} and {exported.int8} (fp32 logits within {exported.max_logit_difference:.1g} of PyTorch)")
