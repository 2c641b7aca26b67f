"""How the embedded Hub runs one Space app apart from itself: its own OS user, environment, folder, process group, log.

- User: when the Hub runs as root, each Space runs under a uid/gid of its own (`space_uid`, no /etc/passwd entry
  needed), so apps can read neither the Hub root (0700) nor one another's folders or `/proc/PID/environ`. When the
  Hub is not root, apps run as the Hub's user: docs/hub.md says what that means.
- Interpreter: the Hub opens its Python installation and virtual environment as directory descriptors that the app
  inherits, and the app runs `/proc/self/fd/N/bin/python3.X` with PYTHONHOME and the library path pointing there. So
  the app user reaches the interpreter and the packages even when they live under a folder it may not traverse
  (pyenv under /root, 0700), and nothing else in that folder.
- Environment: the Space's own secrets and variables, the Hub endpoint, and what Python and Gradio need (PATH,
  HOME = its work folder, TMPDIR, locale); never the Hub's environment.
- Process group: the app leads a session of its own and stopping it kills the whole group. A watchdog pipe whose
  write end only the Hub holds, and PR_SET_PDEATHSIG (SIGHUP), make the app kill its group when the Hub dies, even
  by SIGKILL.
- Log: the app writes into a pipe; the Hub keeps at most LOG_MAX_BYTES of it in two rotating files in its own root.
"""

from __future__ import annotations

import os
import pwd
import signal
import site
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hubtools.errors import HubtoolsError
from hubtools.space import LocalSpace

LOG_MAX_BYTES = 256 * 1024  # per file; the Hub keeps the current file and one older one
LOG_CHUNK_BYTES = 64 * 1024
STOP_GRACE_S = 10
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SPACE_UID_BASE = 1 << 20  # far above the uids distributions hand out
UIDS_PER_HUB = 1 << 16

# Runs as the app's user with `python -S -c LAUNCHER WATCHDOG_FD HUB_PID APP_FILE SITE_DIR...`, then runs the app.
LAUNCHER = """
import ctypes, os, runpy, shutil, signal, site, sys, threading
watchdog, hub_pid, app_file, *site_dirs = sys.argv[1:]
work_folder = os.getcwd()


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


def space_uid(root: Path, repo_pk: int) -> int | None:
    """The uid (and gid) a Space's app runs as: None when the Hub is not root and cannot switch users.

    One block of uids per Hub root, one uid per Space in it, so two Hubs on a machine rarely share a uid.
    """
    if os.geteuid() != 0:
        return None
    block = zlib.crc32(str(Path(root).resolve()).encode()) % 2048
    uid = SPACE_UID_BASE + block * UIDS_PER_HUB + repo_pk % UIDS_PER_HUB
    try:
        account = pwd.getpwuid(uid)
    except KeyError:
        return uid
    raise HubtoolsError(f"uid {uid}, meant for Space apps of {root}, belongs to the account {account.pw_name}; remove it")


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


class IsolatedSpace(LocalSpace):
    """A Gradio Space started by the Hub: another user, a clean environment, its own process group, a capped log."""

    def __init__(
        self, space_dir: Path, *, port: int, endpoint: str, log: RotatingLog, environment: dict[str, str],
        uid: int | None, interpreter: Interpreter, watchdog_fd: int,
    ) -> None:
        super().__init__(space_dir, port=port, endpoint=endpoint, token=None, log_path=log.path, environment=environment)
        self.log = log
        self.uid = uid
        self.interpreter = interpreter
        self.watchdog_fd = watchdog_fd

    def _environment(self) -> dict[str, str]:
        home = str(self.space_dir)
        environment = dict(self.extra_environment)
        environment.update(
            PATH=SAFE_PATH, HOME=home, TMPDIR=os.path.join(home, ".tmp"), LANG="C.UTF-8",
            USER=environment.get("SPACE_ID", "space").replace("/", "-"), HF_HOME=os.path.join(home, ".cache", "huggingface"),
            PYTHONHOME=self.interpreter.home, LD_LIBRARY_PATH=self.interpreter.library_path,
        )
        environment["LOGNAME"] = environment["USER"]
        environment.update(self.app_settings())
        return environment

    def _spawn(self, app_file: Path) -> subprocess.Popen[bytes]:
        (self.space_dir / ".tmp").mkdir(exist_ok=True)
        give_to(self.space_dir, self.uid)
        command = [
            self.interpreter.executable, "-S", "-c", LAUNCHER, str(self.watchdog_fd), str(os.getpid()),
            str(app_file.relative_to(self.space_dir)), *self.interpreter.site_dirs,
        ]
        process = subprocess.Popen(
            command, cwd=self.space_dir, env=self._environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(*self.interpreter.fds, self.watchdog_fd),
            user=self.uid, group=self.uid, extra_groups=[] if self.uid is not None else None, umask=0o077,
        )
        assert process.stdout is not None
        threading.Thread(target=self.log.pump, args=(process.stdout,), name=f"log-{self.port}", daemon=True).start()
        return process

    def stop(self) -> None:
        """SIGTERM to the app's whole process group, then SIGKILL to whatever of it is left."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        signal_group(process.pid, signal.SIGKILL)
        process.wait()


def signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
