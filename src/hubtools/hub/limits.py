"""Limits of the embedded Hub (listed in docs/hub.md) and the ASGI layer that enforces body sizes before reading.

A body larger than its route's limit is refused with 413 from its Content-Length header, before one byte is read,
or, without that header, as soon as the streamed bytes pass the limit. Values follow huggingface.co where it
publishes one (discussion titles, tree page sizes); the others bound memory and time on a small machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubtools.hub.errors import PayloadTooLarge
from hubtools.hub.responses import error_response
from hubtools.hub.xet import MAX_SHARD_BYTES, MAX_XORB_BYTES

MAX_JSON_BODY_BYTES = 10 * 1024 * 1024
# Inline (base64) files stream to disk while the commit arrives (ndjson.py), so only the total is bounded here.
MAX_COMMIT_BODY_BYTES = 2 * 1024**3
MAX_COMMIT_LINE_BYTES = 2 * 1024 * 1024  # one NDJSON line that is not an inline file: header, lfsFile, deletion
MAX_COMMIT_SUMMARY_CHARS = 1_000
MAX_COMMIT_DESCRIPTION_CHARS = 64 * 1024
MAX_OPERATIONS_PER_COMMIT = 25_000  # huggingface.co recommends < 100 files per commit; this is a hard ceiling
MAX_PATH_CHARS = 1_000
MAX_NESTING_DEPTH = 64  # JSON bodies and YAML front matter (model-index cards nest about 6 levels)
MAX_YAML_ALIAS_NODES = 10_000  # nodes YAML aliases may stand for in one document (a billion-laughs bound)
MAX_FILE_BYTES = 50 * 1000**3  # huggingface.co: 50 GB per file (20 GB recommended); bounds a Xet shard's files
MIN_DISCUSSION_TITLE_CHARS = 3  # huggingface.co: "at least 3 characters"
MAX_DISCUSSION_TITLE_CHARS = 200  # huggingface.co: "up to 200 characters"
MAX_COMMENT_CHARS = 64 * 1024
TREE_PAGE_SIZE = 1_000  # huggingface.co: at most 1000 entries per tree request
TREE_EXPAND_PAGE_SIZE = 50  # huggingface.co: 50 when expand=True
DISCUSSIONS_PAGE_SIZE = 50
COMMITS_PAGE_SIZE = 50
UNREFERENCED_BLOB_GRACE_SECONDS = 24 * 3600  # uploads no commit references are collected after this (gc, start-up)
# partial uploads older than this are a killed server's leftovers; younger ones may be another process's writes
# in progress (`hub seed-base-models` while `hub serve` starts on the same root)
TEMP_UPLOAD_GRACE_SECONDS = 3600
LFS_URL_LIFETIME_S = 15 * 60  # a signed LFS upload URL; checked when its PUT starts (huggingface.co's S3 URLs: minutes)


@dataclass(frozen=True)
class BodyRule:
    """Requests whose method and path match get at most `limit` body bytes (`limit_group`: take it from the path)."""

    method: str
    path: re.Pattern[str]
    limit: int | None = None
    limit_group: str | None = None

    def limit_for(self, match: re.Match[str]) -> int:
        return int(match[self.limit_group]) if self.limit_group else int(self.limit or 0)


BODY_RULES: list[BodyRule] = [
    BodyRule("PUT", re.compile(r"^/api/lfs-objects/\d+/[0-9a-f]{64}/(?P<size>\d{1,15})/"), limit_group="size"),
    BodyRule("POST", re.compile(r"^/api/(models|datasets|spaces)/[^/]+/[^/]+/commit/"), limit=MAX_COMMIT_BODY_BYTES),
    BodyRule("POST", re.compile(r"^/xet-cas/v1/xorbs/"), limit=MAX_XORB_BYTES),
    BodyRule("POST", re.compile(r"^/xet-cas/v1/shards$"), limit=MAX_SHARD_BYTES),
]


def body_limit(method: str, path: str) -> int:
    for rule in BODY_RULES:
        match = rule.path.match(path)
        if rule.method == method and match:
            return rule.limit_for(match)
    return MAX_JSON_BODY_BYTES


class BodyTooLarge(PayloadTooLarge):
    """Raised from `receive` once a streamed body passes its limit; the app answers 413."""

    default_code = "PayloadTooLarge"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body exceeds the limit of {limit} bytes for this route")
        self.limit = limit


class BodyLimit:
    """Plain ASGI (bodies stay streamed): 413 from Content-Length before reading, or while streaming."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            message = f"Request body of {declared} bytes exceeds the limit of {limit} bytes for this route"
            await error_response(413, message, "PayloadTooLarge")(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
