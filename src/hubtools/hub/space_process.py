"""How the embedded Hub runs one Space app apart from itself: its own OS user, environment, folder, limits, log.

- User: when the Hub runs as root, each Space runs under a uid/gid of its own (`space_uid`, no /etc/passwd entry
  needed), so apps can read neither the Hub root (0700) nor one another's folders or `/proc/PID/environ`. When the
  Hub is not root, apps run as the Hub's user: docs/hub.md says what that means.
- Interpreter: the Hub opens its Python installation and virtual environment as directory descriptors that the app
  inherits, and the app runs `/proc/self/fd/N/bin/python3.X` with PYTHONHOME and the library path pointing there. So
  the app user reaches the interpreter and the packages even when they live under a folder it may not traverse
  (pyenv under /root, 0700), and nothing else in that folder.
- Environment: the Space's own secrets and variables, the Hub endpoint, and what Python and Gradio need (PATH,
  HOME = its work folder, TMPDIR, locale); never the Hub's environment.
- Processes: stopping the app ends every process of its uid (`space_reaper`; when the Hub is not root, of its
  session), however it forked. A watchdog pipe whose write end only the Hub holds, and PR_SET_PDEATHSIG (SIGHUP),
  make the app empty its folder and kill its group when the Hub dies, even by SIGKILL; the Hub's reaper ends the rest.
- Limits: the launcher sets the kernel's per-process limits before the app runs; a thread of the Hub checks the
  Space's total use and stops the app at its first limit, with a line in its log (`space_limits`).
- Log: the app writes into a pipe; the Hub keeps at most LOG_MAX_BYTES of it in two rotating files in its own root.
"""

from __future__ import annotations

import os
import signal
import site
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hubtools.errors import HubtoolsError
from hubtools.hub.space_limits import CHECK_INTERVAL_S, SpaceLimits, exceeded, measure, snapshot_files
from hubtools.hub.space_reaper import end_all, processes_of_session, processes_of_uids

LOG_MAX_BYTES = 256 * 1024  # per file; the Hub keeps the current file and one older one
LOG_CHUNK_BYTES = 64 * 1024
STOP_GRACE_S = 10
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"

# Runs as the app's user with `python -S -c LAUNCHER WATCHDOG_FD HUB_PID RLIMITS APP_FILE SITE_DIR...`, then runs the app.
LAUNCHER = """
import ctypes, os, resource, runpy, shutil, signal, site, sys, threading
watchdog, hub_pid, rlimits, app_file, *site_dirs = sys.argv[1:]
work_folder = os.getcwd()
for limit in filter(None, rlimits.split(",")):  # soft and hard alike: the app cannot raise them again
    name, value = limit.split("=")
    resource.setrlimit(getattr(resource, name), (int(value), int(value)))


def end_group(*_):  # the Hub is gone: empty the work folder (the Hub cannot now), end the app and all it started
    shutil.rmtree(work_folder, ignore_errors=True)  # all it holds; the folder itself stays (the Hub owns its parent)
    os.killpg(0, signal.SIGKILL)  # the app and every process it started (they share its process group)


def watch():
    os.read(int(watchdog), 1)  # end of file once the Hub's write end closes: the Hub exited, even by SIGKILL
    end_group()


signal.signal(signal.SIGHUP, end_group)
try:
    ctypes.CDLL(None).prctl(1, int(signal.SIGHUP))  # PR_SET_PDEATHSIG: SIGHUP when the Hub dies
except (AttributeError, OSError):
    pass
if os.getppid() != int(hub_pid):
    end_group()  # the Hub died before the line above
threading.Thread(target=watch, daemon=True).start()
for site_dir in site_dirs:
    site.addsitedir(site_dir)
sys.argv = [app_file]
sys.path[0] = os.path.dirname(os.path.abspath(app_file))  # as `python APP_FILE` sets it (in place of -c's '')
runpy.run_path(app_file, run_name="__main__")
"""


def give_to(folder: Path, uid: int | None) -> None:
    """Make `folder` (and all in it) private to `uid`, or to the Hub's user when None."""
    folder.chmod(0o700)
    if uid is None:
        return
    for path in (folder, *folder.rglob("*")):
        os.chown(path, uid, uid, follow_symlinks=False)


@dataclass(frozen=True)
class Interpreter:
    """This Python, reachable by an app through inherited directory descriptors (see the module docstring)."""

    fds: tuple[int, ...]
    executable: str
    home: str
    library_path: str
    site_dirs: tuple[str, ...]

    @classmethod
    def open(cls) -> Interpreter:
        base = os.path.realpath(sys.base_prefix)
        prefixes = {base: os.open(base, os.O_RDONLY | os.O_DIRECTORY)}
        venv = os.path.realpath(sys.prefix)
        if venv != base:
            prefixes[venv] = os.open(venv, os.O_RDONLY | os.O_DIRECTORY)

        def through_fd(path: str) -> str:
            real = os.path.realpath(path)
            for prefix, fd in sorted(prefixes.items(), key=lambda item: -len(item[0])):
                if real == prefix or real.startswith(prefix + os.sep):
                    return f"/proc/self/fd/{fd}/{os.path.relpath(real, prefix)}"
            return real

        executable = through_fd(sys.executable)
        if not executable.startswith("/proc/self/fd/"):
            raise HubtoolsError(f"{os.path.realpath(sys.executable)} is outside {base}: Spaces cannot run this Python")
        return cls(
            fds=tuple(prefixes.values()), executable=executable, home=through_fd(base),
            library_path=through_fd(os.path.join(base, "lib")), site_dirs=tuple(through_fd(p) for p in site.getsitepackages()),
        )

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


class RotatingLog:
    """An app's output, capped: past LOG_MAX_BYTES the file becomes `NAME.1` (replacing the older one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.older = path.with_name(path.name + ".1")
        self._files = threading.Lock()  # opening or rotating the files vs removing them
        self._removed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"")

    def pump(self, stream: IO[bytes]) -> None:
        """Copy the app's output until it closes its end; once the log is removed, drain the pipe and keep nothing
        (an app stopped while its output is still in flight must not bring its files back)."""
        handle = self._reopen(None)
        try:
            while chunk := stream.read1(LOG_CHUNK_BYTES):  # type: ignore[attr-defined]
                if handle is None:
                    continue
                handle.write(chunk)
                handle.flush()
                if handle.tell() > LOG_MAX_BYTES:
                    handle = self._reopen(handle, rotate=True)
        finally:
            if handle is not None:
                handle.close()
            stream.close()

    def _reopen(self, handle: IO[bytes] | None, rotate: bool = False) -> IO[bytes] | None:
        with self._files:
            if handle is not None:
                handle.close()
            if self._removed:
                return None
            if rotate:
                os.replace(self.path, self.older)
            return self.path.open("ab")

    def tail(self, limit: int = LOG_MAX_BYTES) -> str:
        """The last `limit` bytes of output (never more than two capped files are read)."""
        parts = []
        for path in (self.path, self.older):
            try:
                with path.open("rb") as handle:
                    handle.seek(max(0, handle.seek(0, os.SEEK_END) - limit))
                    parts.insert(0, handle.read())
            except FileNotFoundError:
                continue
            limit -= len(parts[0])
            if limit <= 0:
                break
        return b"".join(parts).decode("utf-8", errors="replace")

    def note(self, line: str) -> None:
        """Add a line of the Hub's own to the app's log (unless the log was removed)."""
        with self._files:
            if not self._removed:
                with self.path.open("ab") as handle:
                    handle.write(f"\n{line}\n".encode())

    def written(self) -> float:
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def remove(self) -> None:
        with self._files:
            self._removed = True
            self.path.unlink(missing_ok=True)
            self.older.unlink(missing_ok=True)


class IsolatedLauncher:
    """Starts a Space app apart from the Hub (another user, a clean environment, limits, a capped log) and ends all
    it started; `hubtools.space.LocalSpace` drives it. `limit_reached` names the limit it was stopped at, if any."""

    def __init__(
        self, *, log: RotatingLog, environment: Mapping[str, str], uid: int | None, interpreter: Interpreter,
        watchdog_fd: int, limits: SpaceLimits,
    ) -> None:
        self.log = log
        self.environment = dict(environment)
        self.uid = uid
        self.interpreter = interpreter
        self.watchdog_fd = watchdog_fd
        self.limits = limits
        self.limit_reached: str | None = None

    def app_environment(self, space_dir: Path, settings: Mapping[str, str]) -> dict[str, str]:
        home = str(space_dir)
        environment = dict(self.environment)
        environment.update(
            PATH=SAFE_PATH, HOME=home, TMPDIR=os.path.join(home, ".tmp"), LANG="C.UTF-8",
            USER=environment.get("SPACE_ID", "space").replace("/", "-"), HF_HOME=os.path.join(home, ".cache", "huggingface"),
            PYTHONHOME=self.interpreter.home, LD_LIBRARY_PATH=self.interpreter.library_path,
        )
        environment["LOGNAME"] = environment["USER"]
        environment.update(settings)
        return environment

    def spawn(self, space_dir: Path, app_file: Path, settings: Mapping[str, str]) -> subprocess.Popen[bytes]:
        (space_dir / ".tmp").mkdir(exist_ok=True)
        give_to(space_dir, self.uid)
        own_files = snapshot_files(space_dir)
        rlimits = ",".join(f"{name}={value}" for name, value in self.limits.rlimits(own_uid=self.uid is not None).items())
        command = [
            self.interpreter.executable, "-S", "-c", LAUNCHER, str(self.watchdog_fd), str(os.getpid()), rlimits,
            str(app_file.relative_to(space_dir)), *self.interpreter.site_dirs,
        ]
        process = subprocess.Popen(
            command, cwd=space_dir, env=self.app_environment(space_dir, settings), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            pass_fds=(*self.interpreter.fds, self.watchdog_fd),
            user=self.uid, group=self.uid, extra_groups=[] if self.uid is not None else None, umask=0o077,
        )
        assert process.stdout is not None
        threading.Thread(target=self.log.pump, args=(process.stdout,), name=f"log-{process.pid}", daemon=True).start()
        threading.Thread(
            target=self._enforce_limits, args=(process, space_dir, own_files), name=f"limits-{process.pid}", daemon=True
        ).start()
        return process

    def processes(self, process: subprocess.Popen[bytes]) -> list[int]:
        """Every live process of the app: all its uid runs, or (the Hub not root) all of its session."""
        if self.uid is not None:
            return processes_of_uids(range(self.uid, self.uid + 1))
        return processes_of_session(process.pid)

    def _enforce_limits(self, process: subprocess.Popen[bytes], space_dir: Path, own_files: dict[str, tuple[int, int]]) -> None:
        while process.poll() is None:
            reached = exceeded(self.limits, measure(self.processes(process), space_dir, own_files))
            if reached is not None:
                self.limit_reached = reached
                self.log.note(f"hubtools: the app was stopped: {reached}")
                end_all(lambda: self.processes(process))
                return
            try:
                process.wait(timeout=CHECK_INTERVAL_S)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the app's process group, then SIGKILL to every process of the app (`processes`), wherever it went."""
        if process.poll() is None:
            signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:  # once reaped, its pid may be another's
            signal_group(process.pid, signal.SIGKILL)
        end_all(lambda: self.processes(process))
        process.wait()


def signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
