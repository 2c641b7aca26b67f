"""Run the embedded Hub: in the foreground (`hubtools hub serve`) or as a background process with a handle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hubtools.errors import HubtoolsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


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


def serve(
    root: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, spaces: bool = True, allow_untrusted_spaces: bool = False
) -> None:
    """Serve in the foreground until interrupted (SIGINT or SIGTERM stop the Spaces' apps too)."""
    import uvicorn

    from hubtools.hub.app import create_app

    check_exposure(host, spaces, allow_untrusted_spaces)

    loopback = DEFAULT_HOST if host in ("0.0.0.0", "::", "") else host
    spaces_endpoint = f"http://{loopback}:{port}" if spaces else None

    # h11 reads headers up to 1 MiB so the app answers oversize ones with a clean 431 (MAX_HEADER_BYTES); a smaller
    # parser limit closes the socket mid-request and the client sees a connection reset instead.
    uvicorn.run(
        create_app(root, spaces_endpoint), host=host, port=port, http="h11", h11_max_incomplete_event_size=1024 * 1024, log_level="warning", access_log=False
    )


def is_up(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/api/whoami-v2", timeout=2)
    except urllib.error.HTTPError:
        return True  # 401 for an anonymous caller: the server answers
    except OSError:
        return False
    return True


class BackgroundHub:
    """A `hubtools hub serve` child process; `stop()`/`start()` restart it on the same root and port.

    Unlike `hubtools hub serve`, it runs no Spaces unless asked (`spaces=True`).
    """

    def __init__(self, root: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, spaces: bool = False) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self.spaces = spaces
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30) -> BackgroundHub:
        if self.process is not None and self.process.poll() is None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "server.log", "ab")
        command = [sys.executable, "-m", "hubtools.cli", "hub", "serve", "--root", str(self.root),
                   "--host", self.host, "--port", str(self.port), "--spaces" if self.spaces else "--no-spaces"]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubStartError(
                    f"The embedded Hub exited with status {self.process.returncode}: see {self.root / 'server.log'}"
                    f" (is port {self.port} already in use?)"
                )
            if is_up(self.endpoint):
                return self
            time.sleep(0.1)
        self.stop()
        raise HubStartError(f"The embedded Hub did not answer on {self.endpoint} within {timeout:.0f} s")

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Abrupt stop (SIGKILL), as a crash would."""
        self._end(signal.SIGKILL)

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

    def __enter__(self) -> BackgroundHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_background(root: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, spaces: bool = False) -> BackgroundHub:
    """Start the embedded Hub in a child process and wait until it answers."""
    return BackgroundHub(root, host, port, spaces).start()
