"""`hubtools dataset build`: several people's labels -> one label per text -> Parquet splits + dataset card."""

from __future__ import annotations

from pathlib import Path

import typer

from hubtools.cli.output import HELP_MARKUP
from hubtools.errors import InputError

dataset_app = typer.Typer(help="Build a labelled dataset and its card.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP)


def parse_split_ratios(text: str) -> tuple[float, float, float]:
    try:
        ratios = tuple(float(value) for value in text.split(","))
    except ValueError as error:
        raise InputError(f"--split-ratios {text!r}: expected three numbers like 0.8,0.1,0.1") from error
    if len(ratios) != 3:
        raise InputError(f"--split-ratios {text!r}: expected three numbers like 0.8,0.1,0.1")
    return ratios


@dataset_app.command("build")
def build_command(
    input_file: Path = typer.Option(..., "--input", "-i", help="CSV/JSONL/Parquet with a text column and one column per labeller."),
    labellers: str = typer.Option(..., "--labellers", help="Comma-separated labeller columns, e.g. ann1,ann2,ann3."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: data/*.parquet, dataset_stats.json, README.md."),
    text_column: str = typer.Option("text", "--text-column", help="Column holding the text."),
    split_ratios: str = typer.Option("0.8,0.1,0.1", "--split-ratios", help="train,validation,test ratios (sum 1)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the stratified split."),
    license: str | None = typer.Option(None, "--license", help="Dataset license for the card metadata (default: `dataset_license` of --prose, else other)."),
    language: str = typer.Option("en", "--language", help="Comma-separated language codes for the card."),
    prose: Path | None = typer.Option(None, "--prose", help="Card prose YAML (docs/reporting.md)."),
    dataset_repo_id: str | None = typer.Option(None, "--repo", help="Dataset repo id the card will be published as."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already built in --out."),
    benchmark: bool = typer.Option(False, "--benchmark", help="Declare the dataset a benchmark (eval.yaml with task ids for models' .eval_results)."),
) -> None:
    """Majority-vote labels, report agreement, deduplicate, split stratified and write Parquet + dataset card."""
    from hubtools.card.prose import dataset_card_gaps
    from hubtools.label_noise import describe_label_noise
    from hubtools.labelling import build_dataset
    from hubtools.rundir import RunDir

    root = build_dataset(
        input_file, [name.strip() for name in labellers.split(",") if name.strip()], out,
        text_column=text_column, split_ratios=parse_split_ratios(split_ratios), seed=seed, license=license,
        language=[code.strip() for code in language.split(",")], prose=prose, dataset_repo_id=dataset_repo_id, overwrite=overwrite,
        benchmark=benchmark,
    )
    built = RunDir(root).read_json(RunDir(root).dataset_stats)
    stats, noise = built["labelling"], built["label_noise"]
    kappa = f"{stats['fleiss_kappa']:.3f}" if stats["fleiss_kappa"] is not None else "n/a"
    typer.echo(f"{root}: {stats['rows_out']} rows kept, {stats['ties']} ties set aside, {stats['duplicates_removed']} duplicates removed, Fleiss' kappa {kappa}")
    for gap in dataset_card_gaps(root, prose, license):
        typer.echo(f"{root / 'README.md'}: {gap}", err=True)
    typer.echo(describe_label_noise(noise, root))
