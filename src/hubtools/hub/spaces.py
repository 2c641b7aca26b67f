"""The embedded Hub's Spaces runtime: it runs Gradio Spaces as huggingface.co does.

When `main` of a Gradio Space moves (a commit, a merge) or its secrets or variables change, the app is (re)started:
the Space's files at that commit are copied into a work folder and `python app.py` runs there (through
`hubtools.space.LocalSpace`, as `hubtools space run` does) on a free loopback port, with HF_ENDPOINT = this Hub and
the Space's secrets and variables as environment. Stages follow huggingface.co: BUILDING while the app starts,
RUNNING once it answers, RUNTIME_ERROR (with `errorMessage`) when it exits or never answers. The app runs in the
Hub's own Python environment: requirements.txt is not installed (nothing can be downloaded here).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from hubtools.errors import HubtoolsError
from hubtools.ports import free_port
from hubtools.hub.store import DEFAULT_BRANCH, FileEntry, HubStore, Repo
from hubtools.space import LocalSpace, gradio_app_file

START_TIMEOUT_S = 600
LOG_TAIL_CHARS = 2000


@dataclass
class SpaceApp:
    """One start of one Space: the commit it runs, where, and how far it got."""

    commit_id: str
    port: int
    folder: Path
    stage: str = "BUILDING"
    error: str | None = None
    process: LocalSpace | None = None
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder.with_suffix(".log")


def stored_runtime(files: dict[str, FileEntry]) -> dict:
    """The stage of a Space the Hub stores but does not run (Spaces off, or not a Gradio Space)."""
    return {"stage": "STOPPED" if "app.py" in files else "NO_APP_FILE", "hardware": {"current": None, "requested": None}}


class SpacesRuntime:
    """Runs the Hub's Gradio Spaces; `endpoint` None means Spaces are stored but never run (`--no-spaces`)."""

    def __init__(self, store: HubStore, endpoint: str | None) -> None:
        self.store = store
        self.endpoint = endpoint
        self.work_root = store.root / "spaces-runtime"
        self._apps: dict[int, SpaceApp] = {}
        self._lock = threading.Lock()
        self._one_start_at_a_time = threading.Semaphore(1)  # two CPUs here: apps start one after another
        self._closing = False

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    # ------------------------------------------------------------------ what clients see

    def runtime(self, repo: Repo) -> dict:
        """The `runtime` object of huggingface.co's Space API, as huggingface_hub's SpaceRuntime parses it."""
        app = self.sync(repo)
        if app is None:
            return stored_runtime(self.store.files(self.store.resolve(repo, DEFAULT_BRANCH)))
        answer: dict = {
            "stage": app.stage,
            "hardware": {"current": "cpu-basic" if app.stage == "RUNNING" else None, "requested": "cpu-basic"},
            "storage": None,
            "gcTimeout": None,
            "replicas": {"current": 1 if app.stage == "RUNNING" else 0, "requested": 1},
            "devMode": False,
            "domains": [{"domain": app.host.removeprefix("http://"), "stage": "READY" if app.stage == "RUNNING" else "PENDING"}],
            "sha": app.commit_id,
        }
        if app.error:
            answer["errorMessage"] = app.error
        return answer

    def host(self, repo: Repo) -> str | None:
        """The app's URL (`SpaceInfo.host`): known from the moment it starts building, like `*.hf.space`."""
        app = self.sync(repo)
        return app.host if app else None

    def page_status(self, repo: Repo) -> dict:
        runtime = self.runtime(repo)
        note = None if self.enabled else "Spaces are not run by this Hub (started with --no-spaces)."
        return {"stage": runtime["stage"], "host": self.host(repo), "error": runtime.get("errorMessage"), "note": note}

    def log(self, repo: Repo) -> tuple[str, float]:
        """The app's output so far, every secret value masked, and when it last wrote (to the whole second).

        The time is rounded down: huggingface_hub stops reading a log at the first line stamped later than the
        response's Date header plus one second, and that header has whole seconds and may lag by one.
        """
        app = self.sync(repo)
        if app is None or not app.log_path.is_file():
            return "", 0.0
        written = float(int(app.log_path.stat().st_mtime))
        return self._mask_secrets(repo, app.log_path.read_text(encoding="utf-8", errors="replace")), written

    # ------------------------------------------------------------------ lifecycle

    def sync(self, repo: Repo) -> SpaceApp | None:
        """The Space's app, (re)started when `main` moved since it started; None when this Hub does not run it."""
        if not self.enabled or repo.type != "space" or self._closing:
            return None
        head = self.store.resolve(repo, DEFAULT_BRANCH)
        with self._lock:
            app = self._apps.get(repo.pk)
            if app is not None and app.commit_id == head:
                return app
        if not self._is_gradio(head):
            return None
        return self.restart(repo, head)

    def restart(self, repo: Repo, commit_id: str | None = None) -> SpaceApp | None:
        """Start the Space at `commit_id` (default: the head of main) in place of the app that runs now.

        The new app keeps the old one's port, so the Space's host stays the same across restarts, as on the Hub.
        """
        commit_id = commit_id or self.store.resolve(repo, DEFAULT_BRANCH)
        if not self.enabled or not self._is_gradio(commit_id):
            return None
        with self._lock:
            previous = self._apps.get(repo.pk)
            port = previous.port if previous is not None else free_port()
            app = SpaceApp(commit_id, port, self.work_root / repo.namespace / repo.name / commit_id)
            self._apps[repo.pk] = app
        if previous is not None:
            previous.stopped.set()
        threading.Thread(target=self._run, args=(repo, app, previous), name=f"space-{repo.repo_id}", daemon=True).start()
        return app

    def forget(self, repo: Repo) -> None:
        """Stop a deleted Space's app."""
        with self._lock:
            app = self._apps.pop(repo.pk, None)
        if app is not None:
            self._stop(app)

    def start_all(self) -> None:
        """Start every Gradio Space the Hub holds (when the Hub starts)."""
        for repo in self.store.list_repos():
            if repo.type == "space":
                self.sync(repo)

    def stop_all(self) -> None:
        self._closing = True
        with self._lock:
            apps = list(self._apps.values())
            self._apps.clear()
        for app in apps:
            self._stop(app)

    # ------------------------------------------------------------------ internals

    def _is_gradio(self, commit_id: str) -> bool:
        """huggingface.co reads the sdk and app_file from the README front matter; only Gradio apps with that file run."""
        from huggingface_hub import RepoCard

        files = self.store.files(commit_id)
        readme = files.get("README.md")
        if readme is None:
            return False
        try:
            card = RepoCard(self.store.blob_path(readme.sha256).read_text(encoding="utf-8", errors="replace"))
        except ValueError:
            return False
        # A new Space gets a README with `sdk: gradio` before it has any code: nothing to run until the app file comes.
        return card.data.get("sdk") == "gradio" and (card.data.get("app_file") or "app.py") in files

    def _mask_secrets(self, repo: Repo, text: str) -> str:
        for secret in self.store.space_settings(repo, "secret").values():
            if secret.value:
                text = text.replace(secret.value, "***")
        return text

    def _current(self, repo: Repo, app: SpaceApp) -> bool:
        with self._lock:
            return self._apps.get(repo.pk) is app and not self._closing

    def _run(self, repo: Repo, app: SpaceApp, previous: SpaceApp | None) -> None:
        if previous is not None:
            self._stop(previous)
        with self._one_start_at_a_time:
            if not self._current(repo, app):
                return
            try:
                self._snapshot(app)
                app.process = LocalSpace(
                    app.folder, port=app.port, endpoint=self.endpoint or "", token=None, log_path=app.log_path,
                    environment=self._environment(repo),
                )
                app.process.start(timeout=START_TIMEOUT_S)
            except (HubtoolsError, OSError) as error:
                self._fail(repo, app, str(error))
                return
            if not self._current(repo, app):  # replaced while starting: free the port before the next start
                app.process.stop()
                return
        app.stage = "RUNNING"
        status = app.process.wait()
        self._fail(repo, app, f"the app exited with status {status}")

    def _fail(self, repo: Repo, app: SpaceApp, reason: str) -> None:
        """RUNTIME_ERROR with the reason and the end of the app's output, unless the Hub stopped the app itself."""
        if app.stopped.is_set():
            return
        tail = app.log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:] if app.log_path.is_file() else ""
        app.error = self._mask_secrets(repo, f"{reason}\n{tail}".strip())
        app.stage = "RUNTIME_ERROR"

    def _snapshot(self, app: SpaceApp) -> None:
        """The Space's files at its commit, in a fresh work folder (earlier commits' folders removed)."""
        shutil.rmtree(app.folder.parent, ignore_errors=True)
        for entry in self.store.files(app.commit_id).values():
            target = app.folder / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.store.blob_path(entry.sha256), target)
        gradio_app_file(app.folder)

    def _environment(self, repo: Repo) -> dict[str, str]:
        """What huggingface.co gives a Space: its variables, its secrets, and who it is."""
        environment = {key: s.value for key, s in self.store.space_settings(repo, "variable").items()}
        environment.update({key: s.value for key, s in self.store.space_settings(repo, "secret").items()})
        environment.update(SPACE_ID=repo.repo_id, SPACE_AUTHOR_NAME=repo.namespace, SPACE_REPO_NAME=repo.name)
        return environment

    @staticmethod
    def _stop(app: SpaceApp) -> None:
        app.stopped.set()
        if app.process is not None:
            app.process.stop()
