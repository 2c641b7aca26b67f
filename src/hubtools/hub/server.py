"""Run the embedded Hub: in the foreground (`hubtools hub serve`) or as a background process with a handle.

The listening socket is bound before the server starts (port 0 picks a free one) and handed to uvicorn, so the
port is known before any client needs it and no other process can take it in between. Each server answers with
an `X-Hubtools-Instance` header naming the instance, so a starter knows the answer came from the server it started.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from hubtools.errors import HubtoolsError
from hubtools.hub.space_limits import SpaceLimits
from hubtools.hub.space_reaper import end_leftovers

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
INSTANCE_HEADER = "X-Hubtools-Instance"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HubStartError(HubtoolsError):
    """The embedded Hub did not come up."""


def check_exposure(host: str, spaces: bool, allow_untrusted_spaces: bool, euid: int | None = None) -> None:
    """Refuse to serve beyond loopback with Spaces on when the apps would run as the Hub's own OS user.

    Only a Hub run as root can switch each app to a user of its own; otherwise an app (code from any write-token
    holder) can read hub.sqlite and the Hub's keys, so such a Hub must stay on loopback unless every writer is trusted.
    """
    euid = os.geteuid() if euid is None else euid
    loopback = host == "localhost" or host == "::1" or host.startswith("127.")
    if spaces and euid != 0 and not loopback and not allow_untrusted_spaces:
        raise HubtoolsError(
            f"--host {host} with Spaces on: this Hub does not run as root, so Space apps would run as its own user and"
            " could read hub.sqlite and its keys; serve on 127.0.0.1, add --no-spaces, run the Hub as root, or pass"
            " --allow-untrusted-spaces if you trust everyone who can write a Space"
        )


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A TCP socket bound to HOST:PORT (0: a free port, read it back with `getsockname()`), not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the same port while old connections linger
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise HubStartError(f"cannot listen on {host}:{port}: {error.strerror}; pick another --port (0: any free one)") from error
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def listen(sock: socket.socket) -> None:
    """Start accepting on SOCK (once: a listening socket is left as it is); connections wait until the app is up."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0:
        try:
            sock.listen(2048)
        except OSError as error:
            raise HubStartError(f"cannot listen on port {bound_port(sock)}: {error.strerror} (another server took it?)") from error


def identified(app: ASGIApp, instance: str) -> ASGIApp:
    """APP with an `X-Hubtools-Instance: INSTANCE` header on every HTTP response."""
    header = (INSTANCE_HEADER.lower().encode(), instance.encode())

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_identified(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await app(scope, receive, send_identified)

    return asgi


def serve(
    root: Path, sock: socket.socket, spaces: bool = True, instance: str | None = None, allow_untrusted_spaces: bool = False,
    space_limits: SpaceLimits | None = None,
) -> None:
    """Serve on SOCK (bound by `bind`) in the foreground until interrupted (SIGINT or SIGTERM stop the Spaces too)."""
    import uvicorn

    from hubtools.hub.app import create_app

    host, port = sock.getsockname()[:2]
    check_exposure(host, spaces, allow_untrusted_spaces)
    loopback = DEFAULT_HOST if host in ("0.0.0.0", "::", "") else host
    spaces_endpoint = f"http://{loopback}:{port}" if spaces else None
    app = identified(create_app(root, spaces_endpoint, space_limits), instance or secrets.token_hex(8))
    # h11 reads headers up to 1 MiB so the app answers oversize ones with a clean 431 (MAX_HEADER_BYTES); a smaller
    # parser limit closes the socket mid-request and the client sees a connection reset instead.
    config = uvicorn.Config(app, http="h11", h11_max_incomplete_event_size=1024 * 1024, log_level="warning", access_log=False)
    listen(sock)
    uvicorn.Server(config).run(sockets=[sock])


def answers_as(endpoint: str, instance: str) -> bool:
    """Whether the Hub at ENDPOINT is the one started as INSTANCE (any other server, or none, is not)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/api/whoami-v2", timeout=2) as response:
            return response.headers.get(INSTANCE_HEADER) == instance
    except urllib.error.HTTPError as error:  # 401 for an anonymous caller: it answers, with its header
        return error.headers.get(INSTANCE_HEADER) == instance
    except OSError:
        return False


class BackgroundHub:
    """A `hubtools hub serve` child process; `stop()`/`start()` restart it on the same root and port.

    The port is bound here, when the handle is made (port 0: a free one, in `.port` and `.endpoint` at once), and
    stays reserved for the handle's lifetime: the child serves on the inherited socket. While stopped, the port is
    bound but not listening, so clients are refused as by a stopped server. `close()` releases it.
    Unlike `hubtools hub serve`, it runs no Spaces unless asked (`spaces=True`, within `space_limits`).
    """

    def __init__(
        self, root: Path, host: str = DEFAULT_HOST, port: int = 0, spaces: bool = False, space_limits: SpaceLimits | None = None
    ) -> None:
        self.root = Path(root)
        self.host = host
        self.spaces = spaces
        self.space_limits = space_limits or SpaceLimits()
        self.process: subprocess.Popen | None = None
        self.instance = ""
        self._socket: socket.socket | None = bind(host, port)
        self.port = bound_port(self._socket)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60) -> BackgroundHub:
        if self.process is not None and self.process.poll() is None:
            return self
        if self._socket is None:
            raise HubStartError(f"the embedded Hub on port {self.port} was closed: make a new BackgroundHub")
        self.root.mkdir(parents=True, exist_ok=True)
        end_leftovers(self.root)  # a Space process a killed Hub left must not answer on, or take, this port
        listen(self._socket)
        self.instance = secrets.token_hex(8)
        fd = self._socket.fileno()
        command = [sys.executable, "-m", "hubtools.cli", "hub", "serve", "--root", str(self.root), "--fd", str(fd),
                   "--instance", self.instance, "--spaces" if self.spaces else "--no-spaces", *space_options(self.space_limits)]
        with open(self.root / "server.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), pass_fds=(fd,))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubStartError(f"The embedded Hub exited with status {self.process.returncode}: see {self.root / 'server.log'}")
            if answers_as(self.endpoint, self.instance):
                return self
            time.sleep(0.1)
        self.stop()
        raise HubStartError(f"The embedded Hub did not answer on {self.endpoint} within {timeout:.0f} s: see {self.root / 'server.log'}")

    def _unlisten(self) -> None:
        """Stop accepting (a stopped server refuses connections) but keep the port bound."""
        if self._socket is not None:
            self._socket.close()
            self._socket = bind(self.host, self.port)

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Abrupt stop (SIGKILL), as a crash would."""
        self._end(signal.SIGKILL)

    def close(self) -> None:
        """Stop and release the port."""
        self.stop()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _end(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._unlisten()

    def __enter__(self) -> BackgroundHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def space_options(limits: SpaceLimits) -> list[str]:
    """`hubtools hub serve` options that give these limits (`--space-memory-mb 2048`, ...)."""
    options = []
    for name, value in dataclasses.asdict(limits).items():
        options += [f"--space-{name.replace('_', '-')}", str(value)]
    return options


def serve_in_background(
    root: Path, host: str = DEFAULT_HOST, port: int = 0, spaces: bool = False, space_limits: SpaceLimits | None = None
) -> BackgroundHub:
    """Start the embedded Hub in a child process on PORT (0: a free one, see `.endpoint`) and wait until it answers."""
    return BackgroundHub(root, host, port, spaces, space_limits).start()
