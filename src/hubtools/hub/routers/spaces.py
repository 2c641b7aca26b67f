"""Space routes of huggingface.co's API: runtime, logs, restart, secrets and variables.

Secrets are write-only: no route returns a value (only key, description and update time), the logs route masks
them, and hub.sqlite holds them encrypted (`space_secrets`). Variables are public to whoever can read the Space, as on
the Hub.
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from hubtools.hub.deps import ReadableRepo, State, WritableRepo, json_body
from hubtools.hub.errors import InvalidRequest, NotFound
from hubtools.hub.store import SpaceSetting, iso

ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE_CHARS = 64 * 1024
BASE = "/api/spaces/{namespace}/{name}"


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
        raise InvalidRequest(f"Invalid key {key!r}: use letters, digits and '_' (an environment variable name)")
    value = payload.get("value", "")
    if with_value and (not isinstance(value, str) or len(value) > MAX_VALUE_CHARS):
        raise InvalidRequest(f"The value of {key} must be a string of at most {MAX_VALUE_CHARS} characters")
    description = payload.get("description")
    return key, value if with_value else "", description if isinstance(description, str) else None


router = APIRouter()


@router.get(BASE + "/runtime")
def runtime(repo: ReadableRepo, state: State) -> JSONResponse:
    return JSONResponse(state.spaces.runtime(repo))


@router.post(BASE + "/restart")
def restart(repo: WritableRepo, state: State) -> JSONResponse:
    if not state.spaces.enabled:
        raise InvalidRequest("This Hub does not run Spaces (started with --no-spaces)")
    state.spaces.restart(repo)
    return JSONResponse(state.spaces.runtime(repo))


@router.get(BASE + "/logs/{kind}")
def logs(kind: str, repo: ReadableRepo, state: State) -> StreamingResponse:
    """Server-sent events `data: {"data": line, "timestamp": ...}` as huggingface_hub's fetch_space_logs reads."""
    if kind not in ("run", "build"):
        raise NotFound(f"Unknown log kind {kind!r}: use run or build")
    text, written = state.spaces.log(repo) if kind == "run" else ("", 0.0)
    stamp = iso(written)
    events = [f"data: {json.dumps({'data': line, 'timestamp': stamp})}\n\n" for line in text.splitlines(keepends=True)]
    return StreamingResponse(iter(events), media_type="text/event-stream")


@router.get(BASE + "/secrets")
def list_secrets(repo: WritableRepo, state: State) -> JSONResponse:
    """Keys, descriptions and update times only, to the Space's writers: secret values never leave the Hub."""
    return JSONResponse(_listing(state.store.space_settings(repo, "secret"), with_values=False))


@router.get(BASE + "/variables")
def list_variables(repo: ReadableRepo, state: State) -> JSONResponse:
    return JSONResponse(_listing(state.store.space_settings(repo, "variable"), with_values=True))


def add_setting_routes(kind: str, plural: str) -> None:
    """POST/DELETE `/api/spaces/{id}/{plural}`; a change restarts the app, as on huggingface.co."""
    with_values = kind != "secret"

    async def add(request: Request, repo: WritableRepo, state: State) -> JSONResponse:
        key, value, description = _setting_payload(await json_body(request), with_value=True)

        def store_and_restart() -> dict:  # SQLite and a process restart: off the event loop
            sealed = state.spaces.secret_box.seal(value) if kind == "secret" else value
            state.store.set_space_setting(repo, kind, key, sealed, description)
            state.spaces.restart(repo)
            return _listing(state.store.space_settings(repo, kind), with_values=with_values)

        return JSONResponse(await run_in_threadpool(store_and_restart))

    async def delete(request: Request, repo: WritableRepo, state: State) -> JSONResponse:
        key, _, _ = _setting_payload(await json_body(request), with_value=False)

        def delete_and_restart() -> dict:  # SQLite and a process restart: off the event loop
            if state.store.delete_space_setting(repo, kind, key):
                state.spaces.restart(repo)
            return _listing(state.store.space_settings(repo, kind), with_values=with_values)

        return JSONResponse(await run_in_threadpool(delete_and_restart))

    router.add_api_route(f"{BASE}/{plural}", add, methods=["POST"])
    router.add_api_route(f"{BASE}/{plural}", delete, methods=["DELETE"])


add_setting_routes("secret", "secrets")
add_setting_routes("variable", "variables")
