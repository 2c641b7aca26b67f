"""What the routes depend on, as FastAPI dependencies: the Hub's state, the caller, and access to the repo a URL
names (readable: 404 to strangers of a private repo, as on the Hub; writable: a write token of the namespace).

Revisions such as `refs/pr/1` arrive percent-encoded (`refs%2Fpr%2F1`); Starlette decodes the path before routing,
so `at_revision` re-reads the raw path (see `raw_tail`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from hubtools.hub import repo_types
from hubtools.hub.auth import caller, can_read, may_contribute, require_write, require_write_token
from hubtools.hub.errors import InvalidRequest, NotFound, NotSupported, RepoMoved, RepoNotFound, Unauthorized
from hubtools.hub.parsing import loads_json
from hubtools.hub.spaces import SpacesRuntime
from hubtools.hub.store import DEFAULT_BRANCH, HubStore, Identity, Repo
from hubtools.hub.widget import InferenceWidget
from hubtools.hub.xet_cas import XetCas


# huggingface.co's words; clients show them after the URL they asked for (which names the repo)
REPO_NOT_FOUND = "Repository not found"


@dataclass(frozen=True)
class HubState:
    """One Hub's parts, set on `app.state.hub` by `create_app`."""

    store: HubStore
    spaces: SpacesRuntime
    cas: XetCas
    secret: bytes  # signs LFS upload URLs and Xet CAS tokens
    widget: InferenceWidget = field(default_factory=InferenceWidget)  # the model pages' inference widget


def hub_state(request: Request) -> HubState:
    return request.app.state.hub


def hub_store(request: Request) -> HubStore:
    return hub_state(request).store


State = Annotated[HubState, Depends(hub_state)]
Store = Annotated[HubStore, Depends(hub_store)]


def current_identity(request: Request, store: Store) -> Identity | None:
    """The token's identity, None when anonymous; 401 for an unknown token."""
    return caller(store, request)


Caller = Annotated[Identity | None, Depends(current_identity)]


def authenticated(identity: Caller) -> Identity:
    """The caller, or 401 before any body is read."""
    if identity is None:
        raise Unauthorized("You must be authenticated: pass a token in the Authorization header")
    return identity


Authenticated = Annotated[Identity, Depends(authenticated)]


def with_write_token(identity: Authenticated) -> Identity:
    """An authenticated caller whose token is not read-only (403 before any body is read)."""
    return require_write_token(identity)


WriteToken = Annotated[Identity, Depends(with_write_token)]


def repo_type_in(request: Request) -> str:
    """The repo type the URL names: `/api/{plural}/...`, or `/datasets/...`, `/spaces/...`, else a model."""
    segments = request.url.path.split("/")
    if segments[1] != "api":
        return repo_types.from_url(request.url.path)
    repo_type = repo_types.from_plural(segments[2])
    if repo_type is None:  # `/api/users/{name}/likes`, `/api/organizations/...`: not repos
        raise not_supported(request, "/".join(segments[2:]))
    return repo_type


def find_readable(store: HubStore, identity: Identity | None, repo_type: str, namespace: str, name: str) -> Repo:
    """The repo if `identity` may read it; the same 404 whether it is missing or private to others."""
    repo = store.get_repo(repo_type, namespace, name)
    if repo is None and (moved := store.moved_repo(repo_type, namespace, name)) and can_read(identity, moved):
        raise RepoMoved(f"{namespace}/{name}", moved.repo_id)
    if repo is None or not can_read(identity, repo):
        raise RepoNotFound(REPO_NOT_FOUND)
    return repo


def readable_repo(request: Request, namespace: str, name: str, store: Store, identity: Caller) -> Repo:
    return find_readable(store, identity, repo_type_in(request), namespace, name)


ReadableRepo = Annotated[Repo, Depends(readable_repo)]


def writable_repo(repo: ReadableRepo, identity: Caller) -> Repo:
    """A repo the caller may read, and write with a write token of its namespace (403 otherwise)."""
    require_write(identity, repo.namespace)
    return repo


WritableRepo = Annotated[Repo, Depends(writable_repo)]


def committable_repo(request: Request, repo: ReadableRepo, identity: Caller, store: Store) -> Repo:
    """A repo the caller may commit to (preupload, commit): its writers anywhere; anyone else who `may_contribute`
    only to a new pull request (`create_pr`) or to the `refs/pr/N` of a pull request they opened (403 otherwise)."""
    if identity is not None and not identity.belongs_to(repo.namespace) and may_contribute(identity, repo):
        revision, _ = split_revision(raw_tail(request, "commit"))
        if query_flag(request, "create_pr") or _opened_by(store, repo, revision, identity.user):
            return repo
    require_write(identity, repo.namespace)
    return repo


def _opened_by(store: HubStore, repo: Repo, revision: str, user: str) -> bool:
    """Whether `revision` is `refs/pr/N` of a pull request `user` opened."""
    number = revision.removeprefix("refs/pr/")
    if number == revision or not number.isdigit():
        return False
    try:
        discussion = store.discussion(repo, int(number))
    except NotFound:
        return False
    return bool(discussion["is_pull_request"]) and discussion["author"] == user


CommittableRepo = Annotated[Repo, Depends(committable_repo)]


@dataclass(frozen=True)
class RepoAt:
    """A readable repo at the revision a URL `.../{marker}/{revision}[/{path}]` names."""

    repo: Repo
    revision: str
    commit_id: str
    segments: list[str]

    @property
    def path(self) -> str:
        return "/".join(self.segments)


def at_revision(marker: str) -> Callable[..., RepoAt]:
    """A dependency giving the `RepoAt` of routes whose revision follows the path segment `marker`."""

    def dependency(request: Request, repo: ReadableRepo, store: Store) -> RepoAt:
        revision, segments = split_revision(raw_tail(request, marker))
        return RepoAt(repo, revision, store.resolve(repo, revision), segments)

    return dependency


def split_revision(segments: list[str]) -> tuple[str, list[str]]:
    """First segment(s) -> revision; `refs/pr/1` may also arrive unencoded as three segments."""
    if not segments or not segments[0]:
        return DEFAULT_BRANCH, []
    if segments[0] == "refs" and len(segments) >= 3 and segments[1] in ("pr", "heads", "tags", "convert"):
        return "/".join(segments[:3]), segments[3:]
    return segments[0], segments[1:]


def raw_tail(request: Request, marker: str) -> list[str]:
    """Percent-decoded path segments after `marker`, the segment that follows the repo name."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    segments = raw.decode("latin-1").split("?")[0].split("/")
    if segments[1] == "api":
        index = 5
    elif repo_types.from_url("/" + segments[1]) != "model" and len(segments) > 4 and segments[4] == marker:
        index = 4
    else:
        index = 3
    try:
        return [unquote(segment, errors="strict") for segment in segments[index + 1 :] if segment]
    except UnicodeDecodeError:
        raise InvalidRequest(f"Malformed path {request.url.path!r}: percent-encoding is not UTF-8", "InvalidPath") from None


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def query_flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true")


def not_supported(request: Request, feature: str) -> NotSupported:
    return NotSupported(f"The embedded Hub does not support '{feature}' ({request.method} {request.url.path})")


async def json_body(request: Request, allow_empty: bool = False) -> dict:
    """The body as a JSON object (400 otherwise); large bodies are parsed off the event loop."""
    body = await request.body()
    if not body and allow_empty:
        return {}
    payload = await run_in_threadpool(loads_json, body, "Request body") if len(body) > 64 * 1024 else loads_json(body, "Request body")
    if not isinstance(payload, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return payload
