"""Run a Gradio Space: `python APP_FILE` from the Space's root on 127.0.0.1, until it serves, until it stops.

`hubtools space run ORG/NAME-demo` does what the Hub does with a Gradio Space: fetch the repo, read `app_file` from
its README front matter and run it with `python`, here on 127.0.0.1. `LocalSpace` waits for the app to answer and
stops it; a `Launcher` decides how its process starts and ends: `ChildLauncher` (a plain child process, here) or the
embedded Hub's own (another OS user, limits: `hubtools.hub.space_process`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from hubtools.errors import HubtoolsError

STOP_GRACE_S = 15


class Launcher(Protocol):
    """How a Space app's process starts and ends; `LocalSpace` waits in between for it to serve."""

    def spawn(self, space_dir: Path, app_file: Path, settings: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start `app_file` (inside `space_dir`) with `settings` (`app_settings`) in its environment."""
        ...

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """End the app and every process it started."""
        ...


def app_settings(endpoint: str, port: int) -> dict[str, str]:
    """What every Space app is told: the Hub it talks to and where Gradio serves, quietly."""
    return {
        "HF_ENDPOINT": endpoint,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    }


class ChildLauncher:
    """The app as a child of this process, with this process's environment (less HF_HUB_OFFLINE and HF_TOKEN), the
    extra `environment` (a Space's secrets and variables) and `token` as HF_TOKEN; its output goes to `log_path`."""

    def __init__(self, log_path: Path, token: str | None = None, environment: Mapping[str, str] | None = None) -> None:
        self.log_path = log_path
        self.token = token
        self.environment = dict(environment or {})

    def spawn(self, space_dir: Path, app_file: Path, settings: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """`python APP_FILE` from the Space's root, as the Hub runs it (`app_file: src/app.py` runs src/app.py)."""
        environment = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
        environment.update(self.environment)
        environment.update(settings)
        if self.token:  # like a Space secret: only in the child's environment, never on disk
            environment["HF_TOKEN"] = self.token
        with self.log_path.open("wb") as log:
            return subprocess.Popen(
                [sys.executable, str(app_file.relative_to(space_dir))], cwd=space_dir, env=environment,
                stdout=log, stderr=subprocess.STDOUT,
            )

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def download_space(space_repo_id: str, local_dir: Path, *, endpoint: str, token: str | None, revision: str | None = None) -> Path:
    """Fetch the Space repo's files into `local_dir`."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        snapshot_download(
            space_repo_id, repo_type="space", revision=revision, local_dir=local_dir, endpoint=endpoint, token=token or False
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise HubtoolsError(
            f"Space {space_repo_id} (revision {revision or 'main'}) not found on {endpoint}; publish it with `hubtools publish --space {space_repo_id}`"
        ) from error
    return local_dir


def gradio_app_file(space_dir: Path) -> Path:
    """The file the Hub would run, from the README front matter; only Gradio Spaces are runnable here."""
    from huggingface_hub import SpaceCard

    readme = space_dir / "README.md"
    if not readme.is_file():
        raise HubtoolsError(f"{space_dir}: the Space has no README.md, so its sdk and app_file are unknown")
    data = SpaceCard.load(readme).data
    if data.sdk != "gradio":
        raise HubtoolsError(f"{readme}: sdk is {data.sdk!r}; `hubtools space run` runs Gradio Spaces only")
    app_file = space_dir / (data.app_file or "app.py")
    if not app_file.resolve().is_relative_to(space_dir.resolve()):
        raise HubtoolsError(f"{readme}: app_file {data.app_file!r} points outside the Space; name a file of the Space")
    if not app_file.is_file():
        raise HubtoolsError(f"{readme}: app_file {data.app_file or 'app.py'} is missing from the Space")
    return app_file


class LocalSpace:
    """A Gradio Space running on 127.0.0.1, quiet and offline except for `endpoint`.

    `hubtools space run` launches it as a plain child (`ChildLauncher`: `token` becomes HF_TOKEN, `environment` adds
    to this process's); the embedded Hub passes a `launcher` of its own.
    """

    def __init__(
        self,
        space_dir: Path,
        *,
        port: int,
        endpoint: str,
        token: str | None = None,
        log_path: Path | None = None,
        environment: Mapping[str, str] | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        self.space_dir = space_dir
        self.port = port
        self.endpoint = endpoint
        self.log_path = log_path or space_dir.parent / f"{space_dir.name}.log"
        self.launcher = launcher or ChildLauncher(self.log_path, token, environment)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The app's process once started."""
        return self._process

    def start(self, timeout: float = 120) -> LocalSpace:
        """Launch the app and wait until it answers HTTP 200 on its root; stop it and raise if it exits or does not
        answer within `timeout` seconds.

        Raises:
            HubtoolsError: no runnable Gradio app file, the app exited, or it did not answer in time.
        """
        self._process = self.launcher.spawn(self.space_dir, gradio_app_file(self.space_dir), app_settings(self.endpoint, self.port))
        self._wait_until_serving(timeout)
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise HubtoolsError(f"the Space exited with status {self._process.returncode}; its log: {self.log_path}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise HubtoolsError(f"the Space did not answer on {self.url} within {timeout:.0f} s; its log: {self.log_path}")

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait()

    def stop(self) -> None:
        """End the app and all it started (how: the launcher's `stop`)."""
        if self._process is not None:
            self.launcher.stop(self._process)

    def __enter__(self) -> LocalSpace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """`kill` (SIGTERM) then stops a long-running command as cleanly as Ctrl+C, child processes included."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def run_space(
    space_repo_id: str, *, port: int, endpoint: str, token: str | None, revision: str | None = None, echo: Callable[[str], None] = print
) -> None:
    """Download `space_repo_id` into a temp folder and serve it on 127.0.0.1:`port` until Ctrl+C, SIGINT or SIGTERM.

    SIGINT is handled even when this process was started with it ignored (a background job of a script),
    and the app process is stopped whenever this one stops, also during start-up.
    """
    work_dir = Path(tempfile.mkdtemp(prefix="hubtools-space-"))
    space_dir = download_space(space_repo_id, work_dir / "space", endpoint=endpoint, token=token, revision=revision)
    space = LocalSpace(space_dir, port=port, endpoint=endpoint, token=token)
    echo(f"Starting {space_repo_id} from {space_dir} (log: {space.log_path}) ...")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop_on_sigterm()
    with space:
        try:
            space.start()
            echo(f"Running on {space.url} (Ctrl+C to stop)")
            status = space.wait()
        except KeyboardInterrupt:
            status = 0
    if status:
        raise HubtoolsError(f"the Space exited with status {status}; its log: {space.log_path}")
