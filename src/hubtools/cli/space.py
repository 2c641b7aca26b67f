"""`hubtools space run`: fetch a Gradio Space from the Hub and run it locally."""

from __future__ import annotations

import typer

from hubtools.cli.output import HELP_MARKUP

space_app = typer.Typer(help="Render and run the demo Space.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP)


@space_app.command("run")
def space_run_command(
    space_repo_id: str = typer.Argument(..., help="The Space to run, e.g. ORG/NAME-demo."),
    port: int = typer.Option(7860, help="Local port to serve on."),
    revision: str | None = typer.Option(None, help="Branch, tag or commit of the Space."),
    endpoint: str | None = typer.Option(None, help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)."),
    token: str | None = typer.Option(None, help="Hub token (default: HF_TOKEN or the stored login).", show_default=False),
) -> None:
    """Download a Gradio Space from the Hub and run it locally, the way the Hub would."""
    from hubtools.hubclient import resolve_endpoint, resolve_token
    from hubtools.space import run_space

    run_space(space_repo_id, port=port, revision=revision, endpoint=resolve_endpoint(endpoint), token=resolve_token(token), echo=typer.echo)
