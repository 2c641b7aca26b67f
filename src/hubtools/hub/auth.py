"""Who is calling and what they may do, with the Hub's answers: strangers get 404 on private repos."""

from __future__ import annotations

import hmac

from fastapi import Request

from hubtools.hub.errors import Forbidden, Unauthorized
from hubtools.hub.store import HubStore, Identity, Repo, can_read

__all__ = ["bearer_token", "caller", "can_read", "may_contribute", "require_upload", "require_write", "require_write_token",
           "signatures_match"]

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def caller(store: HubStore, request: Request) -> Identity | None:
    """The token's identity, None when anonymous; an unknown token is refused like on the Hub (401)."""
    token = bearer_token(request)
    if token is None:
        return None
    identity = store.identity(token)
    if identity is None:
        raise Unauthorized( INVALID_CREDENTIALS)
    return identity


def require_write_token(identity: Identity, what: str = "write") -> Identity:
    """Any write (a comment, a discussion, a commit) needs a token that is not read-only."""
    if identity.read_only:
        raise Forbidden(f"Your token is read-only: use a write token to {what}")
    return identity


def require_write(identity: Identity | None, namespace: str) -> Identity:
    """Writes need a write token of the namespace's user or of a member of the organization."""
    if identity is None:
        raise Unauthorized(f"You must be authenticated with a write token to write to '{namespace}'")
    require_write_token(identity, f"write to '{namespace}'")
    if not identity.belongs_to(namespace):
        raise Forbidden(f"You don't have the rights to write to '{namespace}': '{identity.user}' is not a member")
    return identity


def may_contribute(identity: Identity | None, repo: Repo) -> bool:
    """Community pull requests, as on huggingface.co: on a public repo any logged-in user with a write token may
    open one and push to it, member of the namespace or not (merging stays with the namespace's writers)."""
    return identity is not None and not identity.read_only and not repo.private


def require_upload(identity: Identity | None, repo: Repo) -> Identity:
    """Uploading file contents (LFS batch, a Xet write token) ahead of a commit: the namespace's writers, and on a
    public repo anyone who may open a community pull request (whose commit `committable_repo` then checks)."""
    if identity is not None and may_contribute(identity, repo):
        return identity
    return require_write(identity, repo.namespace)


def signatures_match(given: str, expected: str) -> bool:
    """Constant-time comparison of a signature taken from a request (any text: hmac refuses non-ASCII str) with the
    expected hex digest."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
