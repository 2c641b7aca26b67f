"""Why the embedded Hub refuses something, as exceptions that carry no HTTP status.

The store, the Xet CAS and the validators raise these; `responses.status_of` maps each kind to its status in one
table, and the app's one exception handler answers with it. `error_code` is the Hub's `X-Error-Code` when it has one
(huggingface_hub turns `RepoNotFound`, `RevisionNotFound`, `EntryNotFound` into its own exception types).
"""

from __future__ import annotations


class HubError(Exception):
    """A refused request; subclasses say why."""

    default_code: str | None = None

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code or self.default_code


class InvalidRequest(HubError):
    """Malformed or unacceptable input: a name, a path, a payload field."""


class UnprocessablePath(InvalidRequest):
    """A file path huggingface.co answers 422 to (one that starts with `..\\`)."""


class Unauthorized(HubError):
    """No credentials, or credentials that are not valid (unknown token, expired CAS token)."""


class Forbidden(HubError):
    """Valid credentials without the right: a read-only token, a user outside the namespace."""


class NotFound(HubError):
    """Something that does not exist, or that the caller may not know exists."""


class RepoNotFound(NotFound):
    default_code = "RepoNotFound"


class RevisionNotFound(NotFound):
    default_code = "RevisionNotFound"


class EntryNotFound(NotFound):
    default_code = "EntryNotFound"


class DiscussionNotFound(NotFound):
    default_code = "DiscussionNotFound"


class RepoMoved(HubError):
    """A repo id that was renamed or transferred: the answer redirects to the same URL under the new id."""

    def __init__(self, old_id: str, new_id: str) -> None:
        super().__init__(f"Repository {old_id} was moved to {new_id}")
        self.old_id = old_id
        self.new_id = new_id


class Conflict(HubError):
    """The request contradicts the current state: a name taken, a merge conflict."""


class PreconditionFailed(HubError):
    """A `parent_commit` that is no longer the head of its branch."""


class PayloadTooLarge(HubError):
    """A body, line, message or commit over one of the Hub's limits (limits.py)."""


class InsufficientStorage(HubError):
    """An upload the Hub's disk has no room for."""


class RangeNotSatisfiable(HubError):
    """A byte range that starts past the end of the content."""


class NotSupported(HubError):
    """A huggingface.co feature this local Hub does not have (gated repos, collections...)."""

    default_code = "NotImplemented"
