"""Shared fixtures: a real embedded Hub on a loopback port bound here, reached by every client through HF_ENDPOINT.

huggingface_hub reads HF_ENDPOINT when it is imported, so this module sets it (and an isolated HF_HOME) at
import time, before any test module imports huggingface_hub/transformers/datasets. The port comes from a socket
bound here, at import, and held until the session ends (the server process serves on that very socket), so no
other process can take it. The server itself starts lazily, once per session, the first time a test asks for
`hub`; tests that need no Hub pay nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubtools.hub.server import BackgroundHub

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="hubtools-tests-"))
_SESSION_SERVER = BackgroundHub(_SESSION_DIR / "hub", "127.0.0.1", 0)  # binds port 0 now; starts on first use
HUB_ENDPOINT = _SESSION_SERVER.endpoint

os.environ["HF_ENDPOINT"] = HUB_ENDPOINT
os.environ["HF_HOME"] = str(_SESSION_DIR / "hf-home")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
# hf_xet retries a refused connection for minutes (5 attempts, backoff from 3 s); tests that stop the Hub on purpose
# need one retry, and a Hub on loopback fails only on purpose. Read once, at the process's first Xet transfer.
os.environ["HF_XET_CLIENT_RETRY_MAX_ATTEMPTS"] = "1"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_HUB_OFFLINE", None)

if "huggingface_hub" in sys.modules:  # imported by a plugin before us: point its constants at the embedded Hub
    from huggingface_hub import constants as _constants

    _constants.ENDPOINT = HUB_ENDPOINT
    _constants.HUGGINGFACE_CO_URL_TEMPLATE = HUB_ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Release the session Hub's port; remove its data and the HF_HOME cache (hundreds of MB after model downloads)."""
    _SESSION_SERVER.close()
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


class Hub:
    """A running embedded Hub: `.endpoint`, `.root`, `.token(...)`, `.api(token)`, `.stop()`/`.kill()`/`.start()`."""

    def __init__(self, server: BackgroundHub) -> None:
        self.root = server.root
        self.server = server

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        self.server.kill()

    def token(self, user: str, orgs: list[str] | tuple[str, ...] = (), read_only: bool = False) -> str:
        from hubtools.hub import issue_token

        return issue_token(self.root, user, orgs, read_only)

    def api(self, token: str | None = None):
        """hubtools' client bound to this Hub (the same upload path as a stock client: Xet with hf_xet)."""
        from hubtools.hubclient import hub_api

        return hub_api(endpoint=self.endpoint, token=token)

    def stock_api(self, token: str | None = None):
        """A plain huggingface_hub HfApi, as any user would have (Xet on when hf_xet is installed)."""
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=token)


@pytest.fixture(scope="session")
def hub() -> Iterator[Hub]:
    """The session's embedded Hub (started on first use, stopped at the end of the session)."""
    instance = Hub(_SESSION_SERVER)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def seeded_hub(hub: Hub) -> Hub:
    """The embedded Hub with sentence-transformers/all-MiniLM-L6-v2 imported from the offline package."""
    from hubtools.hub.seed import seed_base_models

    seed_base_models(hub.root)
    return hub


@pytest.fixture(scope="session")
def spaces_hub() -> Iterator[Hub]:
    """A second embedded Hub that runs Gradio Spaces, as `hubtools hub serve` does (the `hub` fixture runs none).

    HF_ENDPOINT names the `hub` fixture: reach this one with `endpoint=` or a child process's environment.
    """
    instance = Hub(BackgroundHub(_SESSION_DIR / "spaces-hub", "127.0.0.1", 0, spaces=True))
    instance.start()
    yield instance
    instance.server.close()
