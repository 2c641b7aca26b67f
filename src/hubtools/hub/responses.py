"""Error answers in the Hub's format: JSON `{"error": ...}`, `X-Error-Message`, and `X-Error-Code` when known.

`STATUS` is the one place where the Hub's domain errors (errors.py) become HTTP statuses.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from hubtools.hub import errors

STATUS: dict[type[errors.HubError], int] = {
    errors.InvalidRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.NotSupported: 501,
}


def status_of(exc: errors.HubError) -> int:
    """The status of the most specific kind `exc` is (a RepoNotFound is a NotFound: 404)."""
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)


def error_response(status: int, message: str, error_code: str | None = None) -> JSONResponse:
    headers = {"X-Error-Message": message.encode("ascii", "replace").decode()[:500].replace("\n", " ")}
    if error_code:
        headers["X-Error-Code"] = error_code
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def hub_error_response(exc: errors.HubError) -> JSONResponse:
    return error_response(status_of(exc), str(exc), exc.error_code)
