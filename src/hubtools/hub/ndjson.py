"""Streaming parser of the NDJSON commit payload.

A client may send a large file inline as one JSON line of base64 (`regular` upload mode, or a client that
ignores preupload). Such a line is not held in memory: once an unfinished line
exceeds STREAM_AFTER_BYTES and starts like `{"key": "file", "value": {"content": "`, its base64 is decoded
straight into a temporary blob file, and only the short rest of the line (path, encoding) is parsed as JSON.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import re

from hubtools.hub.limits import MAX_COMMIT_LINE_BYTES
from hubtools.hub.errors import InvalidRequest, PayloadTooLarge
from hubtools.hub.parsing import loads_json
from hubtools.hub.store import FileEntry, HubStore, git_blob_id_of_file

STREAM_AFTER_BYTES = 1024 * 1024
INLINE_FILE_START = re.compile(rb'\s*\{\s*"key"\s*:\s*"file"\s*,\s*"value"\s*:\s*\{\s*"content"\s*:\s*"')


class _Base64Sink:
    """Decodes a base64 JSON string body into a temporary file until its closing quote."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self.fd, self.temp_path = store.new_temp_file()
        self.digest = hashlib.sha256()
        self.size = 0
        self.carry = b""
        self.closed = False

    def write(self, data: bytes) -> bytes:
        """Consume base64 up to the closing quote; return what follows the quote (b"" while still open)."""
        quote = data.find(b'"')
        body, rest = (data, b"") if quote < 0 else (data[:quote], data[quote + 1 :])
        body = self.carry + body
        usable = len(body) - len(body) % 4 if quote < 0 else len(body)
        self.carry = body[usable:]
        try:
            decoded = binascii.a2b_base64(body[:usable], strict_mode=True)
        except binascii.Error:
            raise InvalidRequest("Inline file content is not valid base64") from None
        self.digest.update(decoded)
        os.write(self.fd, decoded)
        self.size += len(decoded)
        self.closed = quote >= 0
        return rest

    def finish(self) -> FileEntry:
        os.close(self.fd)
        self.fd = -1
        sha256 = self.digest.hexdigest()
        blob_id = git_blob_id_of_file(self.temp_path, self.size)
        self.store.adopt_blob(self.temp_path, sha256)
        return FileEntry(path="", sha256=sha256, size=self.size, is_lfs=False, blob_id=blob_id)

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.temp_path.unlink(missing_ok=True)


class CommitStream:
    """Feed body chunks, get `(line number, item)` pairs; inline file contents may arrive as a `FileEntry` (path not set)."""

    def __init__(self, store: HubStore) -> None:
        self.store = store
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.sink: _Base64Sink | None = None
        self.line_number = 0

    def feed(self, chunk: bytes) -> list[tuple[int, dict]]:
        items: list[tuple[int, dict]] = []
        while chunk:
            if self.sink is not None and not self.sink.closed:
                chunk = self.sink.write(chunk)
                continue
            newline = chunk.find(b"\n")
            if newline < 0:
                self._keep(chunk)
                break
            self._keep(chunk[:newline])
            chunk = chunk[newline + 1 :]
            items.extend(self._end_line())
        return items

    def close(self) -> list[tuple[int, dict]]:
        if self.sink is not None and not self.sink.closed:
            raise InvalidRequest(f"Malformed NDJSON commit payload: line {self.line_number + 1} ends inside a file's content")
        return self._end_line()

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()
            self.sink = None

    def _keep(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_size += len(data)
        if self.sink is None and self.pending_size > STREAM_AFTER_BYTES:
            head = b"".join(self.pending)
            start = INLINE_FILE_START.match(head)
            if start:
                self.sink = _Base64Sink(self.store)
                rest = self.sink.write(head[start.end() :])
                self.pending, self.pending_size = [rest], len(rest)
            elif self.pending_size > MAX_COMMIT_LINE_BYTES:
                raise PayloadTooLarge(
                    f"Commit payload line {self.line_number + 1} exceeds {MAX_COMMIT_LINE_BYTES} bytes"
                    " (only inline file contents, sent first in their line, may be longer)",
                )
            else:
                self.pending = [head]

    def _end_line(self) -> list[tuple[int, dict]]:
        line = b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        self.line_number += 1
        if self.sink is not None:
            return [(self.line_number, self._streamed_item(line))]
        if not line.strip():
            return []
        return [(self.line_number, loads_json(line, f"NDJSON commit payload line {self.line_number}"))]

    def _streamed_item(self, tail: bytes) -> dict:
        """`tail` is what followed the content string: `, "path": ..., "encoding": "base64"}}`."""
        sink, self.sink = self.sink, None
        try:
            value = loads_json(b'{"content": null' + tail.rstrip()[:-1], f"NDJSON commit payload line {self.line_number}")
        except InvalidRequest:
            sink.abort()
            raise
        if not isinstance(value, dict):
            sink.abort()
            raise InvalidRequest(f"Malformed NDJSON commit payload: line {self.line_number} is not valid JSON")
        value["content"] = sink.finish()
        return {"key": "file", "value": value}
