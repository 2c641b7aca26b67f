"""A loopback HTTP proxy in front of a real Hub that loses chosen answers, as a flaky network or a proxy's timeout does.

Every request is forwarded to the Hub and its answer relayed, except requests matching `rule`: with
`forward=True` the Hub gets the request (and applies a commit) but the client's connection is closed before any
answer; with `forward=False` the connection is closed before the Hub sees anything. `lost` counts both, up to `times`.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection", "te", "upgrade"}


class FaultProxy:
    def __init__(self, upstream: str, rule: str, *, forward: bool = True, times: int = 1) -> None:
        self.upstream = upstream.rstrip("/")
        self.rule = re.compile(rule)
        self.forward = forward
        self.times = times
        self.lost: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=300)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _should_lose(self, request_line: str) -> bool:
        with self._lock:
            if len(self.lost) < self.times and self.rule.search(request_line):
                self.lost.append(request_line)
                return True
        return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _relay(self) -> None:
                body = self._body()
                lose = proxy._should_lose(f"{self.command} {self.path}")
                self.close_connection = True
                if lose and not proxy.forward:
                    return
                headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
                request = proxy._client.build_request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                response = proxy._client.send(request, stream=True)
                try:
                    raw = b"".join(response.iter_raw())
                finally:
                    response.close()
                if lose:  # the Hub has answered; the client never hears it
                    return
                self.send_response(response.status_code)
                for name, value in response.headers.multi_items():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", response.headers.get("content-length", "0") if self.command == "HEAD" else str(len(raw)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _relay

        return Handler
