"""Error answers in the Hub's format: JSON `{"error": ...}`, `X-Error-Message`, and `X-Error-Code` when known."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def error_response(status: int, message: str, error_code: str | None = None) -> JSONResponse:
    headers = {"X-Error-Message": message.encode("ascii", "replace").decode()[:500].replace("\n", " ")}
    if error_code:
        headers["X-Error-Code"] = error_code
    return JSONResponse({"error": message}, status_code=status, headers=headers)
