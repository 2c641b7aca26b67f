"""Space routes of huggingface.co's API: runtime, logs, restart, secrets and variables.

Secrets are write-only: no route returns a value (only key, description and update time), the logs route masks
them, and hub.sqlite holds them encrypted (`space_secrets`). Variables are public to whoever can read the Space, as on
the Hub.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from hubtools.hub.spaces import SpacesRuntime
from hubtools.hub.store import HubStore, Repo, SpaceSetting, StoreError, iso

ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE_CHARS = 64 * 1024
ReadableRepo = Callable[[Request, str, str, str], Repo]
WritableRepo = Callable[[Request, str, str, str], tuple[Repo, str]]
JsonBody = Callable[[Request], object]


def _listing(settings: dict[str, SpaceSetting], with_values: bool) -> dict:
    listing = {}
    for key, setting in settings.items():
        item: dict = {"description": setting.description, "updatedAt": iso(setting.updated)}
        if with_values:
            item["value"] = setting.value
        listing[key] = item
    return listing


def _setting_payload(payload: dict, with_value: bool) -> tuple[str, str, str | None]:
    key = payload.get("key")
    if not isinstance(key, str) or not ENV_KEY.match(key):
        raise StoreError(400, f"Invalid key {key!r}: use letters, digits and '_' (an environment variable name)")
    value = payload.get("value", "")
    if with_value and (not isinstance(value, str) or len(value) > MAX_VALUE_CHARS):
        raise StoreError(400, f"The value of {key} must be a string of at most {MAX_VALUE_CHARS} characters")
    description = payload.get("description")
    return key, value if with_value else "", description if isinstance(description, str) else None


def add_space_routes(
    app: FastAPI, store: HubStore, spaces: SpacesRuntime, readable_repo: ReadableRepo, writable_repo: WritableRepo,
    json_body: JsonBody,
) -> None:
    def space(request: Request, namespace: str, name: str) -> Repo:
        return readable_repo(request, "space", namespace, name)

    def owned_space(request: Request, namespace: str, name: str) -> Repo:
        return writable_repo(request, "space", namespace, name)[0]

    @app.get("/api/spaces/{namespace}/{name}/runtime")
    def runtime(request: Request, namespace: str, name: str) -> JSONResponse:
        return JSONResponse(spaces.runtime(space(request, namespace, name)))

    @app.post("/api/spaces/{namespace}/{name}/restart")
    def restart(request: Request, namespace: str, name: str) -> JSONResponse:
        repo = owned_space(request, namespace, name)
        if not spaces.enabled:
            raise StoreError(400, "This Hub does not run Spaces (started with --no-spaces)")
        spaces.restart(repo)
        return JSONResponse(spaces.runtime(repo))

    @app.get("/api/spaces/{namespace}/{name}/logs/{kind}")
    def logs(request: Request, namespace: str, name: str, kind: str) -> StreamingResponse:
        """Server-sent events `data: {"data": line, "timestamp": ...}` as huggingface_hub's fetch_space_logs reads."""
        repo = space(request, namespace, name)
        if kind not in ("run", "build"):
            raise StoreError(404, f"Unknown log kind {kind!r}: use run or build")
        text, written = spaces.log(repo) if kind == "run" else ("", 0.0)
        stamp = iso(written)
        events = [f"data: {json.dumps({'data': line, 'timestamp': stamp})}\n\n" for line in text.splitlines(keepends=True)]
        return StreamingResponse(iter(events), media_type="text/event-stream")

    for kind, plural in (("secret", "secrets"), ("variable", "variables")):
        add_setting_routes(app, store, spaces, kind, plural, space, owned_space, json_body)


def add_setting_routes(
    app: FastAPI, store: HubStore, spaces: SpacesRuntime, kind: str, plural: str,
    space: Callable[[Request, str, str], Repo], owned_space: Callable[[Request, str, str], Repo], json_body: JsonBody,
) -> None:
    """GET/POST/DELETE `/api/spaces/{id}/{plural}`; a change restarts the app, as on huggingface.co."""
    is_secret = kind == "secret"

    @app.get(f"/api/spaces/{{namespace}}/{{name}}/{plural}")
    def listing(request: Request, namespace: str, name: str) -> JSONResponse:
        repo = owned_space(request, namespace, name) if is_secret else space(request, namespace, name)
        return JSONResponse(_listing(store.space_settings(repo, kind), with_values=not is_secret))

    @app.post(f"/api/spaces/{{namespace}}/{{name}}/{plural}")
    async def add(request: Request, namespace: str, name: str) -> JSONResponse:
        repo = owned_space(request, namespace, name)
        key, value, description = _setting_payload(await json_body(request), with_value=True)
        store.set_space_setting(repo, kind, key, spaces.secret_box.seal(value) if is_secret else value, description)
        spaces.restart(repo)
        return JSONResponse(_listing(store.space_settings(repo, kind), with_values=not is_secret))

    @app.delete(f"/api/spaces/{{namespace}}/{{name}}/{plural}")
    async def delete(request: Request, namespace: str, name: str) -> JSONResponse:
        repo = owned_space(request, namespace, name)
        key, _, _ = _setting_payload(await json_body(request), with_value=False)
        if store.delete_space_setting(repo, kind, key):
            spaces.restart(repo)
        return JSONResponse(_listing(store.space_settings(repo, kind), with_values=not is_secret))
