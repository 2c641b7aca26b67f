"""One table from every exception type to one line on stderr, naming the next step, and an exit status.

Rows match by type (`isinstance`): hubtools' own families (`hubtools.errors`) and the third-party
exceptions that reach the CLI (huggingface_hub, httpx/requests, YAML, OSError). The first row that
matches the exception, or anything it was raised from, wins; rows go from the most telling to the
most generic. `--debug` (or HUBTOOLS_DEBUG=1) also prints the traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import click
import typer

from hubtools.errors import ClaimsDifferError, HubRefusedError, HubtoolsError, HubUnreachableError, one_line

EXIT_BUG = 1  # not foreseen: a traceback with --debug is worth a bug report
EXIT_INPUT = 2  # the command, a file or the config needs fixing (also click's usage errors)
EXIT_HUB_REFUSED = 3  # the Hub answered no: token, rights, missing repo or file, conflict, size
EXIT_HUB_UNREACHABLE = 4  # no answer, a timeout or a server error: start the Hub or retry later
EXIT_LOCAL_SYSTEM = 5  # this machine: disk full, permissions
EXIT_CLAIMS_DIFFER = 6  # `reproduce`/`audit`: a card's claim is not reproduced, or the audit found a problem
EXIT_CANNOT_REPRODUCE = 7  # `reproduce`: the repo lacks what reproducing needs (named in the report)
EXIT_UNVERIFIABLE = 8  # `audit`: no claim of the card could be re-evaluated (each one's reason in the report)
EXIT_INTERRUPTED = 130  # Ctrl+C / SIGINT, as shells report it

DEBUG_ENV = "HUBTOOLS_DEBUG"
# typer raises its own vendored click's exceptions (a missing required option included), not click's: its
# ClickException is reached through the public typer.BadParameter
USAGE_ERRORS = (click.ClickException, next(base for base in typer.BadParameter.__mro__ if base.__name__ == "ClickException"))


@dataclass(frozen=True)
class Failure:
    message: str
    exit_code: int


def _causes(error: BaseException) -> list[BaseException]:
    from hubtools.hubclient import causes

    return causes(error)


def _endpoint_of(error: BaseException) -> str:
    """The scheme://host:port a connection error was for, else the endpoint in use."""
    from hubtools.hubclient import resolve_endpoint

    try:
        url = error.request.url  # httpx errors carry their request
        return f"{url.scheme}://{url.netloc.decode() if isinstance(url.netloc, bytes) else url.netloc}"
    except (AttributeError, RuntimeError):
        return resolve_endpoint(None)


def _hub_status(error: BaseException) -> int | None:
    from huggingface_hub.errors import HfHubHTTPError

    if not isinstance(error, HfHubHTTPError) or error.response is None:
        return None
    return error.response.status_code


def _hub_says(error: BaseException) -> str:
    return one_line(getattr(error, "server_message", None) or str(error).splitlines()[0])


def _interrupted(error: BaseException) -> Failure:
    return Failure("interrupted; nothing half-written was kept, run the same command again to finish", EXIT_INTERRUPTED)


def _unreachable(error: BaseException) -> Failure:
    from hubtools.hubclient import unreachable_message

    return Failure(unreachable_message(_endpoint_of(error)), EXIT_HUB_UNREACHABLE)


def _timed_out(error: BaseException) -> Failure:
    return Failure(
        f"the Hub at {_endpoint_of(error)} did not answer in time; try again, or raise HF_HUB_DOWNLOAD_TIMEOUT / HF_HUB_ETAG_TIMEOUT",
        EXIT_HUB_UNREACHABLE,
    )


def _hubtools(exit_code: int) -> Callable[[BaseException], Failure]:
    return lambda error: Failure(one_line(error, limit=400), exit_code)


def _gated(error: BaseException) -> Failure:
    return Failure(f"{_hub_says(error)}: request access on the repo's page and use a token of an account that has it", EXIT_HUB_REFUSED)


def _not_found(what: str) -> Callable[[BaseException], Failure]:
    def explain(error: BaseException) -> Failure:
        from hubtools.hubclient import resolve_endpoint

        return Failure(
            f"{what} not found on {resolve_endpoint(None)} ({_hub_says(error)}); check the id, --revision, "
            "--endpoint/HF_ENDPOINT, and that the token can read it if it is private",
            EXIT_HUB_REFUSED,
        )

    return explain


HTTP_NEXT_STEP = {
    401: ("the Hub rejected the token", "log in again (`hf auth login`) or pass --token / HF_TOKEN", EXIT_HUB_REFUSED),
    403: ("the Hub refused", "use a write token of an account that may write there", EXIT_HUB_REFUSED),
    409: ("the Hub reports a conflict", "the branch moved or the repo exists already; run the same command again", EXIT_HUB_REFUSED),
    413: ("the Hub refused a file or request as too large", "leave the large file out or raise the Hub's limit", EXIT_HUB_REFUSED),
    429: ("the Hub is rate limiting", "wait a minute and run the same command again", EXIT_HUB_UNREACHABLE),
}


def _http(error: BaseException) -> Failure:
    status = _hub_status(error) or 0
    if status >= 500:
        return Failure(f"the Hub failed ({status}: {_hub_says(error)}); try again later", EXIT_HUB_UNREACHABLE)
    what, step, code = HTTP_NEXT_STEP.get(status, ("the Hub answered", "check the command's repo ids and token", EXIT_HUB_REFUSED))
    return Failure(f"{what} ({status}: {_hub_says(error)}); {step}", code)


def _yaml(error: BaseException) -> Failure:
    from hubtools.config import describe_yaml_error

    return Failure(f"{describe_yaml_error(error)}; fix the file", EXIT_INPUT)


def _os(error: BaseException) -> Failure:
    assert isinstance(error, OSError)
    where = f" ({error.filename})" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return Failure(f"no space left on the device{where}; free some space or write to another disk (--output-dir / --out)", EXIT_LOCAL_SYSTEM)
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return Failure(f"permission denied{where}; choose a folder you can write to", EXIT_LOCAL_SYSTEM)
    if isinstance(error, FileNotFoundError):
        return Failure(f"file not found{where}; check the path", EXIT_INPUT)
    return Failure(f"{one_line(error.strerror or error)}{where}", EXIT_LOCAL_SYSTEM)


def _invalid_repo_id(error: BaseException) -> Failure:
    return Failure(f"{_hub_says(error)}; a repo id is NAME or ORG/NAME (letters, digits, '-', '_', '.')", EXIT_INPUT)


def _unreadable_weights(error: BaseException) -> Failure:
    return Failure(f"a weights file could not be read ({type(error).__name__}: {one_line(error, 160)}); hubtools loads only valid safetensors", EXIT_INPUT)


def _unexpected(error: BaseException) -> Failure:
    return Failure(f"unexpected {type(error).__name__}: {one_line(error)}; rerun with --debug for the traceback and report it", EXIT_BUG)


Row = tuple[tuple[type[BaseException], ...], Callable[[BaseException], Failure]]


def error_table() -> list[Row]:
    """(exception types, what to say): the first row whose types match the exception or one of its causes wins.

    Third-party types are imported here, when an error is being explained, so `hubtools --help` stays fast.
    """
    import pickle

    import yaml
    from huggingface_hub.errors import (
        EntryNotFoundError, GatedRepoError, HfHubHTTPError, HFValidationError, RepositoryNotFoundError, RevisionNotFoundError,
    )
    from safetensors import SafetensorError

    from hubtools.hubclient import connection_error_types, timeout_types

    return [
        ((KeyboardInterrupt, click.exceptions.Abort), _interrupted),
        ((HubUnreachableError,), _hubtools(EXIT_HUB_UNREACHABLE)),
        ((HubRefusedError,), _hubtools(EXIT_HUB_REFUSED)),
        ((ClaimsDifferError,), _hubtools(EXIT_CLAIMS_DIFFER)),
        ((HubtoolsError,), _hubtools(EXIT_INPUT)),  # InputError, InputFileError and every family without its own row
        (connection_error_types(), _unreachable),
        (timeout_types(), _timed_out),
        ((GatedRepoError,), _gated),  # before RepositoryNotFoundError, its base
        ((RepositoryNotFoundError,), _not_found("repo")),
        ((RevisionNotFoundError,), _not_found("revision")),
        ((EntryNotFoundError,), _not_found("file")),
        ((HfHubHTTPError,), _http),
        ((HFValidationError,), _invalid_repo_id),
        ((pickle.UnpicklingError, SafetensorError), _unreadable_weights),
        ((yaml.YAMLError,), _yaml),
        ((OSError,), _os),
    ]


def explain(error: BaseException) -> Failure:
    """The table's line and exit status for `error`."""
    chain = _causes(error)
    for types, describe in error_table():
        for link in chain:
            if isinstance(link, types):
                return describe(link)
    return _unexpected(error)


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").lower() not in ("", "0", "false", "no")


def run_cli(app: typer.Typer) -> None:
    """Run a typer app; whatever escapes becomes one line on stderr and the table's exit status."""
    from hubtools.cli.output import configure_logging, verbose_enabled

    configure_logging(verbose_enabled())
    try:
        status = app(standalone_mode=False)
    except (Exception, KeyboardInterrupt) as error:
        if isinstance(error, USAGE_ERRORS):  # usage errors: typer's own message (with the usage) and status 2
            error.show()
            sys.exit(error.exit_code)
        fail(explain(error), error)
    if status == EXIT_INTERRUPTED:  # typer turns KeyboardInterrupt into this status
        fail(_interrupted(KeyboardInterrupt()), None)
    if isinstance(status, int) and status:
        sys.exit(status)


def fail(failure: Failure, error: BaseException | None) -> NoReturn:
    if error is not None and debug_enabled():
        traceback.print_exception(error)
    print(f"Error: {failure.message}", file=sys.stderr, flush=True)
    sys.exit(failure.exit_code)
