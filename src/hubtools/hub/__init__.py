"""The embedded Hub: a Hugging Face Hub-compatible server for local work and tests.

`serve_in_background(root, host, port)` starts one in a child process; `issue_token(root, user, ...)` mints a
token for it. Heavy imports (FastAPI, uvicorn) happen only when a server actually runs.
"""

from __future__ import annotations

from pathlib import Path

from hubtools.errors import HubtoolsError
from hubtools.hub.server import BackgroundHub, serve_in_background
from hubtools.hub.limits import UNREFERENCED_BLOB_GRACE_SECONDS
from hubtools.hub.store import NAME_PATTERN, GcReport, HubStore


class InvalidNameError(HubtoolsError):
    """A user or organization name the Hub would not accept."""


def issue_token(root: Path, user: str, orgs: list[str] | tuple[str, ...] = (), read_only: bool = False) -> str:
    """Create (or reuse) `user`, add it to `orgs`, and return a new token for it."""
    for name in (user, *orgs):
        if not NAME_PATTERN.match(name):
            raise InvalidNameError(
                f"Invalid user or organization name {name!r}: use letters, digits, '-', '_' or '.' (at most 96)"
            )
    return HubStore(Path(root)).issue_token(user, tuple(orgs), read_only)


def revoke_token(root: Path, token: str) -> bool:
    """Delete `token`; the Xet CAS tokens issued for it are refused from then on. False when it was not stored."""
    return HubStore(Path(root)).revoke_token(token)


def gc(root: Path, min_age_seconds: float = UNREFERENCED_BLOB_GRACE_SECONDS) -> GcReport:
    """Delete blobs that no commit references once uploaded more than `min_age_seconds` ago (a server does this at
    start-up with a one-day grace); safe while a server runs: commits wait for the sweep."""
    return HubStore(Path(root)).collect_garbage(min_age_seconds)


__all__ = ["BackgroundHub", "GcReport", "InvalidNameError", "gc", "issue_token", "revoke_token", "serve_in_background"]
