"""Error answers in the Hub's format: JSON `{"error": ...}`, `X-Error-Message`, and `X-Error-Code` when known.

`STATUS` is the one place where the Hub's domain errors (errors.py) become HTTP statuses.
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

from hubtools.hub import errors

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

STATUS: dict[type[errors.HubError], int] = {
    errors.RepoMoved: 307,
    errors.InvalidRequest: 400,
    errors.UnprocessablePath: 422,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.RangeNotSatisfiable: 416,
    errors.NotSupported: 501,
    errors.InsufficientStorage: 507,
}


def status_of(exc: errors.HubError) -> int:
    """The status of the most specific kind `exc` is (a RepoNotFound is a NotFound: 404)."""
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)



def error_response(status: int, message: str, error_code: str | None = None) -> JSONResponse:
    """The header copy is ASCII without control characters nor surrounding spaces (HTTP forbids them: a `\r` or a
    trailing space from a decoded path would make the server drop the connection instead of answering)."""
    header = CONTROL_CHARACTERS.sub(" ", message.encode("ascii", "replace").decode()[:500]).strip()
    headers = {"X-Error-Message": header}
    if error_code:
        headers["X-Error-Code"] = error_code
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def hub_error_response(exc: errors.HubError, raw_path: str) -> JSONResponse:
    """The answer to `exc` raised for a request to `raw_path` (path and query, as sent)."""
    response = error_response(status_of(exc), str(exc), exc.error_code)
    if isinstance(exc, errors.RepoMoved):
        response.headers["Location"] = moved_location(raw_path, exc.old_id, exc.new_id)
    return response


def moved_location(raw_path: str, old_id: str, new_id: str) -> str:
    """`raw_path` with the repo id segment pair `old_id` replaced by `new_id` (a relative redirect, same host)."""
    path, mark, query = raw_path.partition("?")
    segments = path.split("/")
    old = old_id.split("/")
    for index in range(len(segments) - 1):
        if [s.lower() for s in segments[index : index + 2]] == [s.lower() for s in old]:
            segments[index : index + 2] = new_id.split("/")
            break
    return "/".join(segments) + mark + query
