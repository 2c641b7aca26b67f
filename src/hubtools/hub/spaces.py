"""The embedded Hub's Spaces runtime: it runs Gradio Spaces as huggingface.co does.

When `main` of a Gradio Space moves (a commit, a merge) or its secrets or variables change, the app is (re)started:
the Space's files at that commit are copied into a work folder of its own and `python APP_FILE` runs there on a free
loopback port, with HF_ENDPOINT = this Hub and the Space's secrets and variables as environment, apart from the Hub
(another OS user when the Hub is root, its own environment, limits, a capped log: see `space_process`).
Apps start in parallel, at most `SpaceLimits.start_slots` at once, each given `start_timeout_s` to answer.
Stages follow huggingface.co: BUILDING while the app starts, RUNNING once it answers, RUNTIME_ERROR (with
`errorMessage`) when it exits, reaches a limit or never answers. Reading a Space (API or page) never starts or restarts its app. The app
runs in the Hub's own Python environment: requirements.txt is not installed (nothing can be downloaded here).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hubtools.errors import HubtoolsError
from hubtools.hub.space_limits import SpaceLimits
from hubtools.hub.space_process import Interpreter, IsolatedLauncher, RotatingLog
from hubtools.hub.space_reaper import end_leftovers, space_uid, space_uids, start_reaper
from hubtools.hub.space_secrets import SecretBox
from hubtools.hub.store import DEFAULT_BRANCH, FileEntry, HubStore, Repo
from hubtools.ports import free_port
from hubtools.space import LocalSpace

LOG_TAIL_CHARS = 2000


@dataclass
class SpaceApp:
    """One start of one Space: the commit it runs, where, and how far it got."""

    commit_id: str
    port: int
    folder: Path
    log: RotatingLog
    stage: str = "BUILDING"
    error: str | None = None
    process: LocalSpace | None = None
    launcher: IsolatedLauncher | None = None
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def interrupt(self) -> None:
        """End its main process alone (a start in progress then fails at once); never another process that reused
        its pid, and none of its Space's uid, which a newer app of the Space may run by now."""
        if self.process is not None and self.process.process is not None:
            self.process.process.kill()  # a no-op once the process was reaped


def stored_runtime(files: dict[str, FileEntry]) -> dict:
    """The stage of a Space the Hub stores but does not run (Spaces off, or not a Gradio Space)."""
    return {"stage": "STOPPED" if "app.py" in files else "NO_APP_FILE", "hardware": {"current": None, "requested": None}}


class SpacesRuntime:
    """Runs the Hub's Gradio Spaces; `endpoint` None means Spaces are stored but never run (`--no-spaces`).

    The Hub root becomes private to the Hub's OS user (0700) either way: it holds hub.sqlite, the blobs and the keys.
    When the Hub is root, it first ends what its Spaces' uids left running and starts the reaper that ends their
    processes when the Hub exits, however it exits (`space_reaper`).
    """

    def __init__(self, store: HubStore, endpoint: str | None, limits: SpaceLimits | None = None) -> None:
        self.store = store
        self.endpoint = endpoint
        self.limits = limits or SpaceLimits()
        store.root.chmod(0o700)
        self.secret_box = SecretBox(store.root)
        self.secret_box.encrypt_plaintext_secrets(store)
        self.logs_root = store.root / "spaces-logs"
        shutil.rmtree(self.logs_root, ignore_errors=True)  # the logs of a previous run's apps
        self._apps: dict[int, SpaceApp] = {}
        self._lock = threading.Lock()
        self._start_slots = threading.Semaphore(self.limits.start_slots)
        self._space_turns: dict[int, threading.Lock] = {}  # one start or stop at a time per Space: they share its uid
        self._closing = False
        self._reaper_fd: int | None = None
        self._work_root: Path | None = None
        self._interpreter: Interpreter | None = None
        self._watchdog: tuple[int, int] | None = None
        if self.enabled:
            self._work_root = Path(tempfile.mkdtemp(prefix="hubtools-spaces-"))
            self._work_root.chmod(0o711)  # each app may enter its own folder in it, and list none
            self._interpreter = Interpreter.open()
            self._watchdog = os.pipe()  # apps read one end; the Hub's end closes when it exits, however it exits
            uids = space_uids(store.root)
            if uids is not None:
                end_leftovers(store.root)
                self._reaper_fd = start_reaper(uids, self._work_root)

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    # ------------------------------------------------------------------ what clients see (never starts an app)

    def current(self, repo: Repo) -> SpaceApp | None:
        with self._lock:
            return self._apps.get(repo.pk)

    def runtime(self, repo: Repo) -> dict:
        """The `runtime` object of huggingface.co's Space API, as huggingface_hub's SpaceRuntime parses it."""
        app = self.current(repo)
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
        app = self.current(repo)
        return app.host if app else None

    def page_status(self, repo: Repo) -> dict:
        runtime = self.runtime(repo)
        note = None if self.enabled else "Spaces are not run by this Hub (started with --no-spaces)."
        return {"stage": runtime["stage"], "host": self.host(repo), "error": runtime.get("errorMessage"), "note": note}

    def log(self, repo: Repo) -> tuple[str, float]:
        """The end of the app's output (at most two capped files), every secret value masked, and when it last wrote
        (to the whole second).

        The time is rounded down: huggingface_hub stops reading a log at the first line stamped later than the
        response's Date header plus one second, and that header has whole seconds and may lag by one.
        """
        app = self.current(repo)
        if app is None:
            return "", 0.0
        return self._mask_secrets(repo, app.log.tail()), float(int(app.log.written()))

    # ------------------------------------------------------------------ lifecycle (commits, settings, the Hub)

    def sync(self, repo: Repo) -> SpaceApp | None:
        """After `main` moved: (re)start the app at the new head, or stop it when the head is no Gradio app."""
        if not self.enabled or repo.type != "space" or self._closing:
            return None
        head = self.store.resolve(repo, DEFAULT_BRANCH)
        app = self.current(repo)
        if app is not None and app.commit_id == head:
            return app
        if not self._is_gradio(head):
            self.forget(repo)
            return None
        return self.restart(repo, head)

    def restart(self, repo: Repo, commit_id: str | None = None) -> SpaceApp | None:
        """Start the Space at `commit_id` (default: the head of main) in place of the app that runs now.

        The new app keeps the old one's port, so the Space's host stays the same across restarts, as on the Hub.
        """
        commit_id = commit_id or self.store.resolve(repo, DEFAULT_BRANCH)
        if not self.enabled or self._work_root is None or not self._is_gradio(commit_id):
            return None
        start = f"{repo.pk}-{commit_id[:12]}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            previous = self._apps.get(repo.pk)
            port = previous.port if previous is not None else free_port()
            app = SpaceApp(commit_id, port, self._work_root / start, RotatingLog(self.logs_root / f"{start}.log"))
            self._apps[repo.pk] = app
        if previous is not None:
            previous.stopped.set()
        threading.Thread(target=self._run, args=(repo, app, previous), name=f"space-{repo.repo_id}", daemon=True).start()
        return app

    def forget(self, repo: Repo) -> None:
        """Stop the app of a deleted Space, or of one whose head is no Gradio app any more."""
        with self._lock:
            app = self._apps.pop(repo.pk, None)
        if app is None:
            return
        app.interrupt()
        with self._space_turn(repo):
            self._stop(app, everything=self.current(repo) is None)

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
            app.interrupt()
        for app in apps:
            self._stop(app, everything=True)  # no app starts any more: `_current` is False once closing
        if self._watchdog is not None:
            for fd in self._watchdog:
                os.close(fd)
            self._watchdog = None
        if self._reaper_fd is not None:
            os.close(self._reaper_fd)  # the reaper sweeps (nothing is left by now) and exits
            self._reaper_fd = None
        if self._interpreter is not None:
            self._interpreter.close()
            self._interpreter = None
        if self._work_root is not None:
            shutil.rmtree(self._work_root, ignore_errors=True)

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
        for secret in self.secret_box.secrets(self.store, repo).values():
            if secret:
                text = text.replace(secret, "***")
        return text

    def _current(self, repo: Repo, app: SpaceApp) -> bool:
        with self._lock:
            return self._apps.get(repo.pk) is app and not self._closing

    def _space_turn(self, repo: Repo) -> threading.Lock:
        with self._lock:
            return self._space_turns.setdefault(repo.pk, threading.Lock())

    def _run(self, repo: Repo, app: SpaceApp, previous: SpaceApp | None) -> None:
        """Start `app` in place of `previous`, then wait for it to exit.

        All of a Space's apps share its uid, so ending "every process of the Space" is safe only where no newer app
        of it can have started: in the Space's turn, while `app` is still its current app. Outside it, only
        `SpaceApp.interrupt`.
        """
        if previous is not None:
            previous.interrupt()  # one still starting gives up the turn now, not at its start timeout
        with self._space_turn(repo):
            if previous is not None:
                self._stop(previous, everything=self._current(repo, app))
            if not self._start(repo, app):
                return
        app.stage = "RUNNING"
        status = app.process.wait()
        with self._space_turn(repo):
            if app.stopped.is_set():
                return  # what stopped it (a newer app, a delete, the Hub) ended it
            self._fail(repo, app, self._limit_reached(app) or f"the app exited with status {status}")
            self._end(app, everything=True)

    def _start(self, repo: Repo, app: SpaceApp) -> bool:
        """Start `app` in a free slot, in its Space's turn; False if it failed, or was replaced or stopped meanwhile
        (then it is ended: no newer app of the Space can have started while this one holds the turn)."""
        with self._start_slots:
            if not self._current(repo, app) or self._interpreter is None or self._watchdog is None:
                return False
            try:
                self._snapshot(app)
                app.launcher = IsolatedLauncher(
                    log=app.log, environment=self._environment(repo), uid=space_uid(self.store.root, repo.pk),
                    interpreter=self._interpreter, watchdog_fd=self._watchdog[0], limits=self.limits,
                )
                app.process = LocalSpace(app.folder, port=app.port, endpoint=self.endpoint or "", log_path=app.log.path, launcher=app.launcher)
                app.process.start(timeout=self.limits.start_timeout_s)
            except (HubtoolsError, OSError) as error:
                self._fail(repo, app, self._limit_reached(app) or str(error))
                self._end(app, everything=True)
                return False
            if not self._current(repo, app):  # replaced while starting: free the port before the next start
                self._stop(app, everything=True)  # also its log
                return False
        return True

    @staticmethod
    def _limit_reached(app: SpaceApp) -> str | None:
        if app.launcher is None or app.launcher.limit_reached is None:
            return None
        return f"the app was stopped: {app.launcher.limit_reached}"

    def _fail(self, repo: Repo, app: SpaceApp, reason: str) -> None:
        """RUNTIME_ERROR with the reason and the end of the app's output, unless the Hub stopped the app itself."""
        if app.stopped.is_set():
            return
        app.error = self._mask_secrets(repo, f"{reason}\n{app.log.tail()[-LOG_TAIL_CHARS:]}".strip())
        app.stage = "RUNTIME_ERROR"

    def _snapshot(self, app: SpaceApp) -> None:
        """The Space's files at its commit, in the app's fresh work folder."""
        for entry in self.store.files(app.commit_id).values():
            target = app.folder / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.store.blob_path(entry.sha256), target)

    def _environment(self, repo: Repo) -> dict[str, str]:
        """What huggingface.co gives a Space: its variables, its secrets, and who it is."""
        environment = {key: s.value for key, s in self.store.space_settings(repo, "variable").items()}
        environment.update(self.secret_box.secrets(self.store, repo))
        environment.update(SPACE_ID=repo.repo_id, SPACE_AUTHOR_NAME=repo.namespace, SPACE_REPO_NAME=repo.name)
        return environment

    @staticmethod
    def _end(app: SpaceApp, everything: bool) -> None:
        """What is left of an app that exited or was replaced: every process of its Space (`everything`, see `_run`)
        or its main process alone, and its work folder."""
        if everything and app.process is not None:
            app.process.stop()
        else:
            app.interrupt()
        shutil.rmtree(app.folder, ignore_errors=True)

    def _stop(self, app: SpaceApp, everything: bool) -> None:
        """Stop an app the Hub no longer shows: processes (see `_end`), work folder and log."""
        app.stopped.set()
        self._end(app, everything)
        app.log.remove()
