"""The embedded Hub: a Hugging Face Hub-compatible server for local work and tests.

`serve_in_background(root, host, port)` starts one in a child process; `issue_token(root, user, ...)` mints a
token for it. Heavy imports (FastAPI, uvicorn) happen only when a server actually runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from hubtools.errors import HubtoolsError
from hubtools.hub.errors import Conflict, InvalidRequest
from hubtools.hub.server import BackgroundHub, serve_in_background
from hubtools.hub.limits import UNREFERENCED_BLOB_GRACE_SECONDS
from hubtools.hub.store import GcReport, HubStore
from hubtools.hub.validation import validate_namespace


class InvalidNameError(HubtoolsError):
    """A user or organization name the Hub would not accept."""


class TokenValueError(HubtoolsError):
    """A literal token that cannot be registered (malformed, or another user's)."""


TOKEN_VALUE = re.compile(r"^[A-Za-z0-9_.~+/=-]{8,256}$")


def issue_token(
    root: Path, user: str, orgs: list[str] | tuple[str, ...] = (), read_only: bool = False, value: str | None = None
) -> str:
    """Create (or reuse) `user`, add it to `orgs`, and return a new token for it; with `value`, register that
    literal token instead (a test suite's fixed token)."""
    for name in (user, *orgs):
        try:
            validate_namespace(name)
        except InvalidRequest as exc:
            raise InvalidNameError(str(exc)) from None
    if value is not None and not TOKEN_VALUE.match(value):
        raise TokenValueError("Invalid --value: a token is 8 to 256 letters, digits or '_.~+/=-', without spaces")
    try:
        return HubStore(Path(root)).issue_token(user, tuple(orgs), read_only, value)
    except Conflict as exc:
        raise TokenValueError(str(exc)) from None


MAX_FULL_NAME_CHARS = 100


def set_full_name(root: Path, name: str, full_name: str) -> None:
    """Give a user or an organization a display name (whoami's `fullname`; the name itself until set)."""
    try:
        validate_namespace(name)
    except InvalidRequest as exc:
        raise InvalidNameError(str(exc)) from None
    if not 0 < len(full_name.strip()) <= MAX_FULL_NAME_CHARS or any(ord(c) < 32 for c in full_name):
        raise InvalidNameError(f"Invalid full name {full_name!r}: 1 to {MAX_FULL_NAME_CHARS} printable characters")
    HubStore(Path(root)).set_full_name(name, full_name.strip())


def set_default_visibility(root: Path, namespace: str, private: bool) -> None:
    """Make repos created in `namespace` without a visibility private (or public again), as an Enterprise org's
    "private by default" setting does on huggingface.co."""
    try:
        validate_namespace(namespace)
    except InvalidRequest as exc:
        raise InvalidNameError(str(exc)) from None
    HubStore(Path(root)).set_private_by_default(namespace, private)


def revoke_token(root: Path, token: str) -> bool:
    """Delete `token`; the Xet CAS tokens issued for it are refused from then on. False when it was not stored."""
    return HubStore(Path(root)).revoke_token(token)


def gc(root: Path, min_age_seconds: float = UNREFERENCED_BLOB_GRACE_SECONDS) -> GcReport:
    """Delete blobs that no commit references once uploaded more than `min_age_seconds` ago (a server does this at
    start-up with a one-day grace); safe while a server runs: commits wait for the sweep."""
    return HubStore(Path(root)).collect_garbage(min_age_seconds)


__all__ = ["BackgroundHub", "GcReport", "InvalidNameError", "TokenValueError", "gc", "issue_token", "revoke_token",
           "serve_in_background", "set_default_visibility", "set_full_name"]
