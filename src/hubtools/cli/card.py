"""`hubtools card`: render a run's model card for review before publishing."""

from __future__ import annotations

from pathlib import Path

import typer


def card_command(
    run: Path = typer.Option(..., "--run", help="Run directory written by `hubtools train`."),
    out: Path | None = typer.Option(None, "--out", help="Folder for README.md and its assets (default: RUN/card)."),
    model_repo_id: str | None = typer.Option(None, "--repo", help="Model repo id the card will be published as (links, snippet)."),
    dataset_repo_id: str | None = typer.Option(None, "--dataset-repo", help="Dataset repo id (metadata `datasets:`; .eval_results when it declares a benchmark)."),
    space_repo_id: str | None = typer.Option(None, "--space", help="Demo Space repo id (link in the card; default REPO-demo, as `publish`)."),
    no_space: bool = typer.Option(False, "--no-space", help="No demo Space link (for `publish --no-space`)."),
    endpoint: str | None = typer.Option(None, "--endpoint", envvar="HF_ENDPOINT", help="Hub address for links (default huggingface.co)."),
    prose: Path | None = typer.Option(None, "--prose", help="Card prose YAML (default: card.prose in the run's config)."),
    compare: list[Path] = typer.Option([], "--compare", help="Another run on the same test split, for the card's \"Model selection\" section (repeatable)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing README.md."),
) -> None:
    """Render the model card (README.md, its PNGs, .eval_results/ for a benchmark dataset) for review before publishing.

    Sections whose prose is missing are left out; one line on stderr lists them and the file to write them in."""
    from hubtools.card import write_model_card
    from hubtools.card.prose import card_gaps

    if model_repo_id and not space_repo_id and not no_space:
        space_repo_id = f"{model_repo_id}-demo"
    readme = write_model_card(
        run, out, model_repo_id=model_repo_id, dataset_repo_id=dataset_repo_id, space_repo_id=space_repo_id,
        endpoint=endpoint, prose=prose, overwrite=overwrite, compare=list(compare),
    )
    for gap in card_gaps(run, prose):
        typer.echo(f"{readme}: {gap}", err=True)
    typer.echo(f"{readme}: model card written")
