"""The embedded Hub's FastAPI app, answering like huggingface.co for huggingface_hub, transformers and datasets.

`create_app` only wires: the Hub's parts (store, Spaces runtime, Xet CAS, signing key) on `app.state.hub`, the ASGI
limits, one handler turning domain errors (errors.py) into the Hub's error answers, and the routers by resource
(routers/), in an order where the wide patterns come last.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubtools import __version__
from hubtools.hub import lfs
from hubtools.hub.deps import REPO_NOT_FOUND, HubState
from hubtools.hub.errors import HubError
from hubtools.hub.openapi import SCHEMA_PATH, hub_schema
from hubtools.hub.limits import TEMP_UPLOAD_GRACE_SECONDS, UNREFERENCED_BLOB_GRACE_SECONDS, BodyLimit
from hubtools.hub.responses import error_response, hub_error_response
from hubtools.hub.routers import (
    commits, discussions, downloads, fallback, listing, page_forms, pages, refs, repos, spaces, xet, xet_downloads,
)
from hubtools.hub.routers import lfs as lfs_routes
from hubtools.hub.space_limits import SpaceLimits
from hubtools.hub.spaces import SpacesRuntime
from hubtools.hub.store import HubStore
from hubtools.hub.xet_cas import CAS_PATH, XetCas, cas_instance

MAX_HEADER_BYTES = 32 * 1024
# API routers first; `fallback` answers any other /api call; `pages` (`/{namespace}/{name}`...) last.
ROUTERS = (
    repos.router, spaces.router, listing.router, refs.router, discussions.router, commits.router, xet.router,
    xet_downloads.router, lfs_routes.router, downloads.router, fallback.router, page_forms.router, pages.router,
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


class RequestId:
    """Every answer carries an `X-Request-Id`, as on huggingface.co (clients quote it in their error messages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"Root={uuid.uuid4().hex}".encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


class CasInstancePath:
    """`/xet-cas/{instance}/...` (the CAS URL handed to hf_xet) is served as `/xet-cas/...` when `instance` is this
    root's; before the limits, so their rules see the plain path. Another root's instance finds no route (404)."""

    def __init__(self, app: ASGIApp, instance: str) -> None:
        self.app = app
        self.prefix = f"{CAS_PATH}/{instance}/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            plain = CAS_PATH + "/" + scope["path"][len(self.prefix):]
            scope = {**scope, "path": plain, "raw_path": plain.encode()}
        await self.app(scope, receive, send)


async def hub_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return hub_error_response(exc, raw_path + (f"?{query}" if query else ""))


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """A parameter or body field of the wrong type or out of range: 400 naming the first one, as the Hub does."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(400, f"Invalid request: {where}: {first.get('msg', 'invalid value')}", "InvalidRequest")


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Unrouted paths (e.g. a repo id without namespace) answer like a missing repo, as on the Hub."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and any(ord(c) < 32 for c in request.scope["path"]):  # no route matches a newline
        return error_response(400, f"Malformed path {request.scope['path']!r}: control characters", "InvalidPath")
    if exc.status_code == 404:
        return error_response(404, REPO_NOT_FOUND, "RepoNotFound")
    return error_response(exc.status_code, str(exc.detail))


def create_app(root: Path, spaces_endpoint: str | None = None, space_limits: SpaceLimits | None = None) -> FastAPI:
    """The Hub's routes; with `spaces_endpoint` (this Hub's URL, for the apps) it also runs Gradio Spaces (within
    `space_limits`, default `SpaceLimits()`)."""
    store = HubStore(Path(root))
    store.clear_temp(TEMP_UPLOAD_GRACE_SECONDS)
    store.collect_garbage(UNREFERENCED_BLOB_GRACE_SECONDS)
    state = HubState(store, SpacesRuntime(store, spaces_endpoint, space_limits), XetCas(store), lfs.load_secret(Path(root)))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.spaces.start_all()
        yield
        state.spaces.stop_all()
        await state.widget.close()

    app = FastAPI(title="hubtools embedded Hub", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=SCHEMA_PATH, lifespan=lifespan)
    app.openapi = hub_schema(app)  # type: ignore[method-assign]
    app.state.hub = state
    app.add_middleware(BodyLimit)
    app.add_middleware(HeaderLimit)
    app.add_middleware(RequestId)
    app.add_middleware(CasInstancePath, instance=cas_instance(state.secret))  # last added: runs first
    app.add_exception_handler(HubError, hub_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for router in ROUTERS:
        app.include_router(router)
    return app
