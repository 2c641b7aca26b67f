"""The embedded Hub's FastAPI app, answering like huggingface.co for huggingface_hub, transformers and datasets.

`create_app` only wires: the Hub's parts (store, Spaces runtime, Xet CAS, signing key) on `app.state.hub`, the ASGI
limits, one handler turning domain errors (errors.py) into the Hub's error answers, and the routers by resource
(routers/), in an order where the wide patterns come last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from hubtools.hub import lfs
from hubtools.hub.deps import HubState
from hubtools.hub.errors import HubError
from hubtools.hub.limits import UNREFERENCED_BLOB_GRACE_SECONDS, BodyLimit
from hubtools.hub.responses import error_response, hub_error_response
from hubtools.hub.routers import commits, discussions, downloads, fallback, listing, pages, refs, repos, spaces, xet
from hubtools.hub.routers import lfs as lfs_routes
from hubtools.hub.spaces import SpacesRuntime
from hubtools.hub.store import HubStore
from hubtools.hub.xet_cas import XetCas

MAX_HEADER_BYTES = 32 * 1024
# API routers first; `fallback` answers any other /api call; `pages` (`/{namespace}/{name}`...) last.
ROUTERS = (
    repos.router, spaces.router, listing.router, refs.router, discussions.router, commits.router, xet.router,
    lfs_routes.router, downloads.router, fallback.router, pages.router,
)


class HeaderLimit:
    """Refuse requests whose headers exceed MAX_HEADER_BYTES with 431 (plain ASGI: bodies stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            response = error_response(431, f"Request headers exceed {MAX_HEADER_BYTES} bytes")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def hub_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    return hub_error_response(exc)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Unrouted paths (e.g. a repo id without namespace) answer like a missing repo, as on the Hub."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and any(ord(c) < 32 for c in request.scope["path"]):  # no route matches a newline
        return error_response(400, f"Malformed path {request.scope['path']!r}: control characters", "InvalidPath")
    if exc.status_code == 404:
        return error_response(404, f"Repository Not Found for {request.url.path}", "RepoNotFound")
    return error_response(exc.status_code, str(exc.detail))


def create_app(root: Path, spaces_endpoint: str | None = None) -> FastAPI:
    """The Hub's routes; with `spaces_endpoint` (this Hub's URL, for the apps) it also runs Gradio Spaces."""
    store = HubStore(Path(root))
    store.clear_temp()
    store.collect_garbage(UNREFERENCED_BLOB_GRACE_SECONDS)
    state = HubState(store, SpacesRuntime(store, spaces_endpoint), XetCas(store), lfs.load_secret(Path(root)))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.spaces.start_all()
        yield
        state.spaces.stop_all()

    app = FastAPI(title="hubtools embedded Hub", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.hub = state
    app.add_middleware(BodyLimit)
    app.add_middleware(HeaderLimit)
    app.add_exception_handler(HubError, hub_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for router in ROUTERS:
        app.include_router(router)
    return app
