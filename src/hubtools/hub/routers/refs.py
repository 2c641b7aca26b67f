"""Branches and tags (create, delete) and squashing a branch's history into one commit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hubtools.hub.deps import Authenticated, State, Store, WritableRepo, json_body, raw_tail, split_revision
from hubtools.hub.errors import PayloadTooLarge
from hubtools.hub.limits import MAX_COMMIT_SUMMARY_CHARS
from hubtools.hub.payloads import NewBranch, NewTag, SuperSquash, documented, parse
from hubtools.hub.store import DEFAULT_BRANCH
from hubtools.hub.validation import validate_ref_name

router = APIRouter()


@router.post("/api/{plural}/{namespace}/{name}/branch/{rest:path}", openapi_extra=documented(NewBranch))
async def create_branch(request: Request, repo: WritableRepo, store: Store) -> JSONResponse:
    branch = validate_ref_name("/".join(raw_tail(request, "branch")))
    payload = parse(NewBranch, await json_body(request, allow_empty=True), f"New branch of {repo.repo_id}")
    await run_in_threadpool(store.create_branch, repo, branch, payload.startingPoint)
    return JSONResponse({})


@router.post("/api/{plural}/{namespace}/{name}/tag/{rest:path}", openapi_extra=documented(NewTag))
async def create_tag(request: Request, repo: WritableRepo, store: Store) -> JSONResponse:
    revision, _ = split_revision(raw_tail(request, "tag"))
    store.resolve(repo, revision)  # a missing revision is RevisionNotFound before any check of the tag's name
    tag = validate_ref_name(parse(NewTag, await json_body(request), f"New tag of {repo.repo_id}").tag, "tag")
    await run_in_threadpool(store.create_tag, repo, tag, revision)
    return JSONResponse({})


@router.delete("/api/{plural}/{namespace}/{name}/branch/{rest:path}")
def delete_branch(request: Request, repo: WritableRepo, store: Store) -> JSONResponse:
    store.delete_branch(repo, "/".join(raw_tail(request, "branch")))
    return JSONResponse({})


@router.delete("/api/{plural}/{namespace}/{name}/tag/{rest:path}")
def delete_tag(request: Request, repo: WritableRepo, store: Store) -> JSONResponse:
    store.delete_tag(repo, "/".join(raw_tail(request, "tag")))
    return JSONResponse({})


@router.post("/api/{plural}/{namespace}/{name}/super-squash/{rest:path}", openapi_extra=documented(SuperSquash))
async def super_squash(request: Request, repo: WritableRepo, identity: Authenticated, state: State) -> JSONResponse:
    branch = "/".join(raw_tail(request, "super-squash")) or DEFAULT_BRANCH
    payload = parse(SuperSquash, await json_body(request, allow_empty=True), f"Super-squash of {repo.repo_id}")
    message = payload.message or f"Super-squash branch '{branch}'"
    if len(message) > MAX_COMMIT_SUMMARY_CHARS:
        raise PayloadTooLarge(f"Commit message longer than {MAX_COMMIT_SUMMARY_CHARS} characters")
    commit_id = await run_in_threadpool(state.store.super_squash, repo, branch, message, identity.user)
    await run_in_threadpool(state.spaces.sync, repo)  # a squashed main is a new head: a Space runs it
    return JSONResponse({"commitId": commit_id})
