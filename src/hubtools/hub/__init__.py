"""The embedded Hub: a Hugging Face Hub-compatible server for local work and tests.

`serve_in_background(root, host, port)` starts one in a child process; `issue_token(root, user, ...)` mints a
token for it. Heavy imports (FastAPI, uvicorn) happen only when a server actually runs.
"""

from __future__ import annotations

from pathlib import Path

from hubtools.hub.server import BackgroundHub, serve_in_background


def issue_token(root: Path, user: str, orgs: list[str] | tuple[str, ...] = (), read_only: bool = False) -> str:
    """Create (or reuse) `user`, add it to `orgs`, and return a new token for it."""
    from hubtools.hub.store import HubStore

    return HubStore(Path(root)).issue_token(user, tuple(orgs), read_only)


__all__ = ["BackgroundHub", "issue_token", "serve_in_background"]
