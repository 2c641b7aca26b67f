"""Error answers in the Hub's format: JSON `{"error": ...}`, `X-Error-Message`, and `X-Error-Code` when known."""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def error_response(status: int, message: str, error_code: str | None = None) -> JSONResponse:
    """The header copy is ASCII without control characters nor surrounding spaces (HTTP forbids them: a `\r` or a
    trailing space from a decoded path would make the server drop the connection instead of answering)."""
    header = CONTROL_CHARACTERS.sub(" ", message.encode("ascii", "replace").decode()[:500]).strip()
    headers = {"X-Error-Message": header}
    if error_code:
        headers["X-Error-Code"] = error_code
    return JSONResponse({"error": message}, status_code=status, headers=headers)
