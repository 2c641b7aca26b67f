"""Accounts and repos: whoami, create, delete, settings, listing, repo info, and `validate-yaml`."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from hubtools.hub.auth import can_read, require_write
from hubtools.hub.cards import front_matter_problems, read_card_data
from hubtools.hub.deps import (
    Authenticated,
    Caller,
    HubState,
    ReadableRepo,
    State,
    Store,
    WritableRepo,
    base_url,
    find_readable,
    json_body,
    not_supported,
    raw_tail,
    split_revision,
)
from hubtools.hub.errors import Conflict, InvalidRequest
from hubtools.hub.payloads import CreateRepo, DeleteRepo, MoveRepo, RepoSettings, YamlToValidate, documented, parse
from hubtools.hub.model_size import model_card_fields, parameter_counts
from hubtools.hub.repo_types import from_plural, url_prefix
from hubtools.hub.store import DEFAULT_BRANCH, Repo, iso
from hubtools.hub.validation import validate_repo_name

SPACE_SDKS = ("gradio", "docker", "static", "streamlit")
MAX_CONFIG_BYTES = 1024 * 1024

router = APIRouter()


@router.get("/api/whoami-v2")
def whoami(identity: Authenticated, store: Store) -> JSONResponse:
    full_names = store.full_names([identity.user, *identity.orgs])
    return JSONResponse({
        "type": "user",
        "id": identity.user,
        "name": identity.user,
        "fullname": full_names[identity.user],
        "orgs": [{"type": "org", "name": org, "fullname": full_names[org]} for org in identity.orgs],
        "auth": {
            "type": "access_token",
            "accessToken": {"displayName": "hubtools", "role": "read" if identity.read_only else "write"},
        },
    })


@router.post("/api/repos/create", openapi_extra=documented(CreateRepo))
async def create_repo(request: Request, identity: Authenticated, store: Store) -> JSONResponse:
    payload = parse(CreateRepo, await json_body(request), "Create repo")
    repo_type, name = payload.type, payload.name
    namespace = payload.organization or identity.user
    validate_repo_name(namespace, name)
    require_write(identity, namespace)
    sdk = payload.sdk
    if repo_type == "space" and sdk not in SPACE_SDKS:
        raise InvalidRequest(f"Invalid Space sdk {sdk!r}: use one of {', '.join(SPACE_SDKS)}")
    if payload.private is None and payload.visibility is None:
        private = await run_in_threadpool(store.is_private_by_default, namespace)
    else:
        private = bool(payload.private) or payload.visibility == "private"
    url = f"{base_url(request)}/{url_prefix(repo_type)}{namespace}/{name}"
    try:
        repo = await run_in_threadpool(
            store.create_repo, repo_type, namespace, name, private, sdk if repo_type == "space" else None, identity.user
        )
    except Conflict as exc:  # huggingface_hub's `exist_ok` reads the URL of the existing repo from this answer
        return JSONResponse({"error": str(exc), "url": url}, status_code=409, headers={"X-Error-Message": str(exc)})
    return JSONResponse({"url": url, "name": repo.repo_id, "id": repo.repo_id})


@router.delete("/api/repos/delete", openapi_extra=documented(DeleteRepo))
async def delete_repo(request: Request, identity: Authenticated, state: State) -> Response:
    payload = parse(DeleteRepo, await json_body(request), "Delete repo")
    repo = find_readable(state.store, identity, payload.type, payload.organization or identity.user, payload.name)
    require_write(identity, repo.namespace)
    await run_in_threadpool(state.store.delete_repo, repo)
    await run_in_threadpool(state.spaces.forget, repo)  # stops the Space's app: a process wait
    return Response(status_code=200)


@router.post("/api/repos/move", openapi_extra=documented(MoveRepo))
async def move_repo(request: Request, identity: Authenticated, state: State) -> JSONResponse:
    """Rename or transfer a repo (write rights on both namespaces); the old id redirects to the new one."""
    payload = parse(MoveRepo, await json_body(request), "Move repo")
    source, target = payload.fromRepo, payload.toRepo
    if not all(i.count("/") == 1 for i in (source, target)):
        raise InvalidRequest("Moving a repo needs 'fromRepo' and 'toRepo' as namespace/name")
    repo = find_readable(state.store, identity, payload.type, *source.split("/"))
    namespace, name = target.split("/")
    validate_repo_name(namespace, name)
    require_write(identity, repo.namespace)
    require_write(identity, namespace)
    state.spaces.forget(repo)
    moved = await run_in_threadpool(state.store.move_repo, repo, namespace, name)
    await run_in_threadpool(state.spaces.sync, moved)
    return JSONResponse({})


@router.get("/api/{plural}/{namespace}/{name}/auth-check")
def auth_check(repo: ReadableRepo) -> JSONResponse:
    """Whether the caller may read the repo: 200, or the same 404 as any read (gated repos do not exist here)."""
    return JSONResponse({})


@router.put("/api/{plural}/{namespace}/{name}/settings", openapi_extra=documented(RepoSettings))
async def update_settings(request: Request, repo: WritableRepo, store: Store) -> JSONResponse:
    payload = await json_body(request)
    settings = parse(RepoSettings, payload, f"Settings of {repo.repo_id}")
    unsupported_settings = [
        f"{key}={value!r}" for key, value in payload.items()
        if key not in RepoSettings.model_fields or (key == "gated" and value is not False)
    ]
    if unsupported_settings:
        raise not_supported(request, f"repo settings {', '.join(unsupported_settings)}")
    private = settings.private if settings.visibility is None else settings.visibility == "private"
    if private is not None:
        await run_in_threadpool(store.set_private, repo, private)
    return JSONResponse({})


@router.post("/api/validate-yaml", openapi_extra=documented(YamlToValidate))
async def validate_yaml(request: Request) -> JSONResponse:
    payload = await json_body(request)
    errors, warnings = await run_in_threadpool(front_matter_problems, payload.get("content"))
    if errors and "text/plain" in request.headers.get("accept", ""):  # RepoCard.validate shows this text as is
        return PlainTextResponse("\n".join(f"- Error: {error['message']}" for error in errors), status_code=400)
    if errors:
        return JSONResponse({"errors": errors}, status_code=400)
    return JSONResponse({"errors": [], "warnings": warnings})


@router.get("/api/{plural}")
def list_repos(request: Request, plural: str, identity: Caller, store: Store) -> JSONResponse:
    repo_type = from_plural(plural)
    if repo_type is None:
        raise not_supported(request, plural)
    author = request.query_params.get("author")
    search = request.query_params.get("search", "").lower()
    repos = [
        r for r in store.list_repos()
        if r.type == repo_type and can_read(identity, r)
        and (author is None or r.namespace == author) and search in r.repo_id.lower()
    ]
    return JSONResponse([
        {"_id": f"{r.pk:024x}", "id": r.repo_id, "author": r.namespace, "private": r.private,
         "createdAt": iso(r.created), "tags": [], "downloads": 0, "likes": 0}
        for r in repos
    ])


@router.get("/api/{plural}/{namespace}/{name}")
def repo_info(request: Request, repo: ReadableRepo, state: State) -> JSONResponse:
    return JSONResponse(info_json(request, state, repo, DEFAULT_BRANCH))


@router.get("/api/{plural}/{namespace}/{name}/revision/{rest:path}")
def repo_info_at(request: Request, repo: ReadableRepo, state: State) -> JSONResponse:
    revision, _ = split_revision(raw_tail(request, "revision"))
    return JSONResponse(info_json(request, state, repo, revision))


def info_json(request: Request, state: HubState, repo: Repo, revision: str) -> dict:
    """`model_info` / `dataset_info` / `space_info` at a revision: siblings (with blobs=1 their sizes), card data."""
    store = state.store
    commit_id = store.resolve(repo, revision)
    commit = store.commit(commit_id)
    files = store.files(commit_id)
    card_data, _ = read_card_data(store, files)
    with_blobs = request.query_params.get("blobs", "").lower() in ("1", "true")
    siblings = []
    for entry in files.values():
        sibling: dict = {"rfilename": entry.path}
        if with_blobs:
            sibling.update(size=entry.size, blobId=entry.blob_id)
            if entry.is_lfs:
                sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": len(entry.pointer())}
        siblings.append(sibling)
    card = card_data or {}
    info: dict = {
        "_id": f"{repo.pk:024x}", "id": repo.repo_id, "author": repo.namespace, "sha": commit_id,
        "lastModified": iso(commit.date), "createdAt": iso(repo.created), "private": repo.private, "disabled": False,
        "gated": False, "downloads": 0, "likes": 0, "tags": card.get("tags") if isinstance(card.get("tags"), list) else [],
        "siblings": siblings, "cardData": card_data,
    }
    if repo.type == "model":
        info.update(modelId=repo.repo_id, pipeline_tag=card.get("pipeline_tag"), library_name=card.get("library_name"))
        info.update(model_card_fields(card, parameter_counts(store, files)))
        if "config.json" in files and files["config.json"].size < MAX_CONFIG_BYTES:
            try:
                info["config"] = json.loads(store.blob_path(files["config.json"].sha256).read_bytes())
            except ValueError:
                pass
    if repo.type == "space":
        info["sdk"] = repo.sdk
        info["runtime"] = state.spaces.runtime(repo)
        info["host"] = state.spaces.host(repo)
        info["subdomain"] = f"{repo.namespace}-{repo.name}".lower().replace("_", "-").replace(".", "-")
    return info
