"""`hubtools hub ...`: serve the embedded Hub, mint tokens, seed base models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hubtools.hub.server import DEFAULT_HOST, DEFAULT_PORT
from hubtools.hub.store import default_root

hub_app = typer.Typer(
    help="The embedded Hugging Face Hub: `serve` it, mint a `token`, `seed-base-models`, `gc` unreferenced blobs.",
    no_args_is_help=True,
)

RootOption = Annotated[
    Path,
    typer.Option("--root", help="Directory holding the Hub's database and blobs (kept across restarts)."),
]


@hub_app.command("serve")
def serve_command(
    root: RootOption = default_root(),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="TCP port (0: any free one, printed).")] = DEFAULT_PORT,
    spaces: Annotated[
        bool, typer.Option("--spaces/--no-spaces", help="Run Gradio Spaces (restarted on each commit), as huggingface.co does.")
    ] = True,
    fd: Annotated[int | None, typer.Option(hidden=True, help="Serve on this inherited, bound TCP socket (BackgroundHub).")] = None,
    instance: Annotated[str | None, typer.Option(hidden=True, help="Name sent in X-Hubtools-Instance (BackgroundHub).")] = None,
) -> None:
    """Serve a Hub-compatible API and repo pages; point clients at it with HF_ENDPOINT=http://HOST:PORT."""
    import socket

    from hubtools.hub.server import bind, bound_port, listen, serve

    sock = socket.socket(fileno=fd) if fd is not None else bind(host, port)
    listen(sock)  # from here on, clients wait in the backlog until the app answers
    host = sock.getsockname()[0]
    typer.echo(f"Embedded Hub on http://{host}:{bound_port(sock)} (data in {root}; Spaces {'run' if spaces else 'off'})", err=True)
    serve(root, sock, spaces, instance)


@hub_app.command("token")
def token_command(
    user: Annotated[str, typer.Option("--user", help="User name (created if new).")],
    root: RootOption = default_root(),
    org: Annotated[list[str], typer.Option("--org", help="Organization the user belongs to (repeatable).")] = [],  # noqa: B006
    read_only: Annotated[bool, typer.Option("--read-only", help="Token that can read but never write.")] = False,
) -> None:
    """Print a new token for USER; pass it as HF_TOKEN or `token=`."""
    from hubtools.hub import issue_token

    typer.echo(issue_token(root, user, org, read_only))


@hub_app.command("seed-base-models")
def seed_command(root: RootOption = default_root()) -> None:
    """Import the offline all-MiniLM-L6-v2 weights as sentence-transformers/all-MiniLM-L6-v2 (idempotent)."""
    from hubtools.hub.seed import seed_base_models

    for repo_id, commit_id in seed_base_models(root).items():
        typer.echo(f"{repo_id}: {'committed ' + commit_id if commit_id else 'already up to date'}")


@hub_app.command("gc")
def gc_command(
    root: RootOption = default_root(),
    min_age_hours: Annotated[float, typer.Option(help="Keep unreferenced uploads younger than this.")] = 24.0,
) -> None:
    """Delete blobs that no commit of any repo references (uploads never committed, deleted repos)."""
    from hubtools.hub import gc

    report = gc(root, min_age_hours * 3600)
    typer.echo(
        f"removed {report.removed_blobs} unreferenced blobs ({report.removed_bytes} bytes); kept {report.referenced}"
        f" referenced and {report.kept_recent} younger than {min_age_hours:g} h"
    )
