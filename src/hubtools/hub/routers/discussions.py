"""Discussions and pull requests as huggingface.co answers them: listing (paginated), details with events,
comments, status changes, and merging a pull request into main."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hubtools.hub.auth import may_contribute, require_write
from hubtools.hub.deps import ReadableRepo, State, Store, WriteToken, base_url, json_body
from hubtools.hub.errors import InvalidRequest
from hubtools.hub.payloads import EditedComment, Merge, NewComment, NewDiscussion, NewStatus, NewTitle, documented, parse
from hubtools.hub.limits import (
    DISCUSSIONS_PAGE_SIZE,
    MAX_COMMENT_CHARS,
    MAX_DISCUSSION_TITLE_CHARS,
    MIN_DISCUSSION_TITLE_CHARS,
)
from hubtools.hub.store import DEFAULT_BRANCH, HubStore, Identity, Repo, iso
from hubtools.hub.validation import checked_text

BASE = "/api/{plural}/{namespace}/{name}/discussions"
STATUS_FILTERS = {"all": None, "open": ("open", "draft"), "closed": ("closed", "merged")}
TYPE_FILTERS = {"all": None, "discussion": 0, "pull_request": 1}
Num = Annotated[int, Path(ge=1, le=2**31 - 1, description="Discussion or pull request number")]


def event_json(event: dict) -> dict:
    data = dict(event["data"])
    if event["type"] == "comment":
        latest = data["latest"]
        data["latest"] = {**latest, "updatedAt": iso(latest["updatedAt"]), "author": {"name": latest["author"]}}
    return {"id": event["id"], "type": event["type"], "createdAt": iso(event["created"]),
            "author": {"name": event["author"]}, "data": data}


def discussion_json(repo: Repo, row: dict) -> dict:
    return {
        "num": row["num"],
        "title": row["title"],
        "status": row["status"],
        "author": {"name": row["author"]},
        "createdAt": iso(row["created"]),
        "repo": {"name": repo.repo_id, "type": repo.type},
        "isPullRequest": bool(row["is_pull_request"]),
        "numComments": row.get("num_comments", 0),
        "pinned": False,
        "topReactions": [],
    }


def details_json(repo: Repo, row: dict) -> dict:
    answer = {**discussion_json(repo, row), "events": [event_json(e) for e in row["events"]]}
    if row["is_pull_request"]:
        answer["changes"] = {"base": f"refs/heads/{DEFAULT_BRANCH}", "mergeCommitId": row["merge_commit"]}
        answer["filesWithConflicts"] = []
    return answer


router = APIRouter()


@router.get(BASE)
def list_discussions(request: Request, repo: ReadableRepo, store: Store) -> JSONResponse:
    params = request.query_params
    status, kind = params.get("status", "all"), params.get("type", "all")
    if status not in STATUS_FILTERS or kind not in TYPE_FILTERS:
        raise InvalidRequest(f"Invalid filter: status must be one of {list(STATUS_FILTERS)}, type one of {list(TYPE_FILTERS)}")
    rows = [
        row for row in store.discussions(repo)
        if (STATUS_FILTERS[status] is None or row["status"] in STATUS_FILTERS[status])
        and (TYPE_FILTERS[kind] is None or row["is_pull_request"] == TYPE_FILTERS[kind])
        and params.get("author") in (None, row["author"])
    ]
    page = int(params.get("p", "0")) if params.get("p", "0").isdigit() else 0
    start = page * DISCUSSIONS_PAGE_SIZE
    return JSONResponse({
        "discussions": [discussion_json(repo, row) for row in rows[start : start + DISCUSSIONS_PAGE_SIZE]],
        "count": len(rows),
        "start": start,
        "numClosedDiscussions": sum(row["status"] in ("closed", "merged") for row in rows),
    })


@router.post(BASE, openapi_extra=documented(NewDiscussion))
async def create_discussion(request: Request, identity: WriteToken, repo: ReadableRepo, store: Store) -> JSONResponse:
    payload = parse(NewDiscussion, await json_body(request), f"New discussion in {repo.repo_id}")
    is_pull_request = payload.pullRequest
    if is_pull_request and not may_contribute(identity, repo):
        require_write(identity, repo.namespace)
    title = checked_text(payload.title, "title", MIN_DISCUSSION_TITLE_CHARS, MAX_DISCUSSION_TITLE_CHARS)
    description = checked_text(payload.description, "description", 0, MAX_COMMENT_CHARS)
    num = await run_in_threadpool(store.open_discussion, repo, title, description, identity.user, is_pull_request)
    return JSONResponse({"num": num, "url": f"{base_url(request)}/{repo.url_prefix}{repo.repo_id}/discussions/{num}"})


@router.get(BASE + "/{num}")
def discussion_details(num: Num, repo: ReadableRepo, store: Store) -> JSONResponse:
    return JSONResponse(details_json(repo, store.discussion(repo, num)))


@router.post(BASE + "/{num}/comment", openapi_extra=documented(NewComment))
async def comment(request: Request, num: Num, identity: WriteToken, repo: ReadableRepo, store: Store) -> JSONResponse:
    payload = parse(NewComment, await json_body(request), f"Comment on #{num} of {repo.repo_id}")
    text = checked_text(payload.comment, "comment", 1, MAX_COMMENT_CHARS)
    event = await run_in_threadpool(store.comment_discussion, repo, num, identity.user, text)
    return JSONResponse({"newMessage": event_json(event)})


@router.post(BASE + "/{num}/comment/{comment_id}/edit", openapi_extra=documented(EditedComment))
async def edit_comment(
    request: Request, num: Num, comment_id: str, identity: WriteToken, repo: ReadableRepo, store: Store
) -> JSONResponse:
    payload = parse(EditedComment, await json_body(request), f"Comment edit on #{num} of {repo.repo_id}")
    text = checked_text(payload.content, "comment", 1, MAX_COMMENT_CHARS)
    event = await run_in_threadpool(store.edit_comment, repo, num, comment_id, identity.user, text)
    return JSONResponse({"updatedComment": event_json(event)})


def require_author_or_writer(store: HubStore, repo: Repo, num: int, identity: Identity) -> None:
    """A discussion's status and title belong to its author and the repo's writers."""
    if store.discussion(repo, num)["author"] != identity.user:
        require_write(identity, repo.namespace)


@router.post(BASE + "/{num}/title", openapi_extra=documented(NewTitle))
async def rename(request: Request, num: Num, identity: WriteToken, repo: ReadableRepo, store: Store) -> JSONResponse:
    await run_in_threadpool(require_author_or_writer, store, repo, num, identity)
    payload = parse(NewTitle, await json_body(request), f"Title of #{num} of {repo.repo_id}")
    title = checked_text(payload.title, "title", MIN_DISCUSSION_TITLE_CHARS, MAX_DISCUSSION_TITLE_CHARS)
    event = await run_in_threadpool(store.rename_discussion, repo, num, title, identity.user)
    return JSONResponse({"newTitle": event_json(event)})


@router.post(BASE + "/{num}/status", openapi_extra=documented(NewStatus))
async def change_status(request: Request, num: Num, identity: WriteToken, repo: ReadableRepo, store: Store) -> JSONResponse:
    await run_in_threadpool(require_author_or_writer, store, repo, num, identity)
    payload = parse(NewStatus, await json_body(request), f"Status of #{num} of {repo.repo_id}")
    remark = checked_text(payload.comment or "", "comment", 0, MAX_COMMENT_CHARS) or None
    event = await run_in_threadpool(store.set_discussion_status, repo, num, payload.status, identity.user, remark)
    return JSONResponse({"newStatus": event_json(event)})


@router.post(BASE + "/{num}/merge", openapi_extra=documented(Merge, required=False))
async def merge(request: Request, num: Num, identity: WriteToken, repo: ReadableRepo, state: State) -> JSONResponse:
    require_write(identity, repo.namespace)
    payload = parse(Merge, await json_body(request, allow_empty=True), f"Merge of #{num} of {repo.repo_id}")
    remark = checked_text(payload.comment or "", "comment", 0, MAX_COMMENT_CHARS) or None
    await run_in_threadpool(state.store.merge_pull_request, repo, num, identity.user, remark)
    await run_in_threadpool(state.spaces.sync, repo)  # main moved: a Space runs the merged commit
    return JSONResponse({})
