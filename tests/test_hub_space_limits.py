"""A Space cannot outlive, starve or impersonate the embedded Hub: escaped processes end, limits stop the app with a
line in its log, and an app that never answers does not hold up another Space's start.

One real Hub with Spaces on and small limits runs small plain-Python apps (no Gradio: the point is process handling;
the Hub runs any app whose README says `sdk: gradio` and which answers HTTP on GRADIO_SERVER_PORT).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd

from hub_support import alive, gone_within, within

from hubtools.hub import BackgroundHub
from hubtools.hub.space_limits import SpaceLimits

ORG = "limits"
LIMITS = SpaceLimits(memory_mb=100, processes=24, open_files=64, file_size_mb=1, disk_mb=8, start_slots=2, start_timeout_s=90)
README = "---\ntitle: Plain\nsdk: gradio\napp_file: app.py\n---\n"
SERVE = """
import http.server, os
http.server.HTTPServer(("127.0.0.1", int(os.environ["GRADIO_SERVER_PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""
# Leaves its process group and session (double fork + setsid); once the Hub stops answering, binds the Hub's port
# and reads what clients send there (their Authorization headers), as the issue's escaped process did.
ESCAPE = """
import os, socket, time, urllib.parse
hub_port = urllib.parse.urlsplit(os.environ["HF_ENDPOINT"]).port
app_session = os.getsid(0)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        print(f"ESCAPED {os.getpid()} {os.getsid(0)} {app_session} {os.getcwd()}", flush=True)
        while True:
            time.sleep(1)
            try:
                socket.create_connection(("127.0.0.1", hub_port), timeout=1).close()
                continue
            except OSError:
                time.sleep(1)
            try:
                server = socket.socket()
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind(("127.0.0.1", hub_port))
                server.listen()
            except OSError:
                continue
            while True:
                client, _ = server.accept()
                client.recv(65536)
                client.close()
    os._exit(0)
os.wait()
""" + SERVE
MEMORY = """
import time
held = []
for _ in range(500):
    held.append(bytearray(b"x") * (4 * 1024 * 1024))  # written, so resident
    print("held", len(held) * 4, "MiB", flush=True)
    time.sleep(0.1)  # 40 MiB/s: from the limit, the kernel's backstop is 2.5 s (ten of the Hub's checks) away
"""
PROCESSES = """
import os, time
while True:
    try:
        pid = os.fork()
    except OSError as error:
        print("fork refused:", error.errno, flush=True)
        time.sleep(600)
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    print("CHILD", pid, flush=True)
"""
FILE_SIZE = """
import time
try:
    with open("big.bin", "wb") as handle:
        while True:
            handle.write(b"x" * 65536)
            handle.flush()
except OSError as error:
    print("write refused: errno", error.errno, flush=True)
time.sleep(600)
"""
DISK = """
import time
for number in range(64):
    with open(f"part-{number}.bin", "wb") as handle:
        handle.write(b"x" * 512 * 1024)  # each below the file-size limit; 16 of them fill the folder's 8 MiB
    print("wrote", number + 1, "parts", flush=True)
    time.sleep(0.05)
time.sleep(600)
"""
OPEN_FILES = """
import time
held = []
try:
    while True:
        held.append(open("app.py", "rb"))
except OSError as error:
    print("open refused: errno", error.errno, flush=True)
time.sleep(600)
"""
BLOCKING = "import time\nprint('BLOCKING', flush=True)\ntime.sleep(3600)\n"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a Space has a uid of its own only when the Hub is root")


def wait_for_the_reapers_of(root: Path, seconds: float = 15) -> None:
    from hubtools.hub.space_reaper import space_uids

    marker = f"hubtools.hub.space_reaper\0{space_uids(root).start}\0".encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reapers = [path for path in Path("/proc").glob("[0-9]*/cmdline") if marker in read_or_empty(path)]
        if not any(alive(int(path.parent.name)) for path in reapers):
            return
        time.sleep(0.05)
    raise AssertionError(f"a reaper of {root} is still running")


def read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


class Spaces:
    def __init__(self, server: BackgroundHub, token: str) -> None:
        from hubtools.hubclient import hub_api

        self.server = server
        self.api = hub_api(endpoint=server.endpoint, token=token)

    def create(self, app: str) -> str:
        space_id = f"{ORG}/app-{uuid.uuid4().hex[:6]}"
        self.api.create_repo(space_id, repo_type="space", space_sdk="gradio")
        self.commit(space_id, app)
        return space_id

    def commit(self, space_id: str, app: str) -> None:
        operations = [CommitOperationAdd("README.md", README.encode()), CommitOperationAdd("app.py", app.encode())]
        self.api.create_commit(space_id, operations, commit_message="App", repo_type="space")

    def log(self, space_id: str) -> str:
        return "".join(self.api.fetch_space_logs(space_id))

    def wait_for_line(self, space_id: str, prefix: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines = [line for line in self.log(space_id).splitlines() if line.startswith(prefix)]
            if lines:
                return lines[-1]
            time.sleep(0.2)
        raise AssertionError(f"no line {prefix!r} in the log of {space_id}: {self.log(space_id)[-2000:]}")

    def stopped_at_limit(self, space_id: str, reason: str) -> str:
        """The app's log, once the Space is in RUNTIME_ERROR for `reason`, which its log also gives."""
        runtime = self.api.wait_for_space(space_id, timeout=120)
        assert runtime.stage == "RUNTIME_ERROR" and f"the app was stopped: {reason}" in runtime.raw["errorMessage"]
        log = self.log(space_id)
        assert f"hubtools: the app was stopped: {reason}" in log
        return log

    def escaped(self, space_id: str) -> tuple[int, Path]:
        """The escaped process and the app's work folder."""
        _, pid, session, app_session, folder = self.wait_for_line(space_id, "ESCAPED ").split()
        assert alive(int(pid)) and session != app_session  # it left the app's session
        return int(pid), Path(folder)


@pytest.fixture(scope="module")
def spaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spaces]:
    from hubtools.hub import issue_token

    root = tmp_path_factory.mktemp("space-limits") / "hub"
    server = BackgroundHub(root, spaces=True, space_limits=LIMITS)
    server.start()
    yield Spaces(server, issue_token(root, "ines", [ORG]))
    server.close()


@needs_root
def test_a_double_forked_setsid_process_ends_when_its_space_is_replaced_or_deleted(spaces: Spaces) -> None:
    space_id = spaces.create(ESCAPE)
    assert spaces.api.wait_for_space(space_id, timeout=120).stage == "RUNNING"
    first, _ = spaces.escaped(space_id)
    spaces.commit(space_id, ESCAPE + "\n# a new commit replaces the app\n")
    assert gone_within([first], 15)
    assert spaces.api.wait_for_space(space_id, timeout=120).stage == "RUNNING"
    second, _ = spaces.escaped(space_id)
    assert second != first
    spaces.api.delete_repo(space_id, repo_type="space")
    assert gone_within([second], 15)


@needs_root
def test_a_killed_hub_takes_escaped_processes_with_it_and_the_restarted_hub_owns_its_port(spaces: Spaces) -> None:
    space_id = spaces.create(ESCAPE)
    assert spaces.api.wait_for_space(space_id, timeout=120).stage == "RUNNING"
    escaped, folder = spaces.escaped(space_id)
    spaces.server.kill()  # SIGKILL: the Hub runs no clean-up; its reaper ends what its Spaces' uids run
    assert gone_within([escaped], 15)
    assert within(lambda: not folder.parent.exists(), 15)  # and removes the apps' work folders
    spaces.server.start()  # answers with its own instance header: this Hub, not a process on its port
    assert spaces.api.wait_for_space(space_id, timeout=120).stage == "RUNNING"
    spaces.api.delete_repo(space_id, repo_type="space")


@needs_root
def test_a_hub_ends_what_its_space_uids_left_running_before_it_listens(spaces: Spaces) -> None:
    from hubtools.hub.space_reaper import space_uid

    spaces.server.stop()
    wait_for_the_reapers_of(spaces.server.root)  # the stopped Hub's reaper sweeps too: let it finish first
    uid = space_uid(spaces.server.root, 4242)
    leftover = subprocess.Popen(["sleep", "600"], user=uid, group=uid, extra_groups=[], start_new_session=True)
    try:
        spaces.server.start()
        assert leftover.wait(timeout=1) == -9  # killed before start() returned
    finally:
        leftover.kill()


def test_an_app_past_its_memory_limit_is_stopped_with_a_line_in_its_log(spaces: Spaces) -> None:
    space_id = spaces.create(MEMORY)
    log = spaces.stopped_at_limit(space_id, "its processes hold")
    assert "MiB of memory: the Space memory limit is 100 MiB" in log
    held = [int(line.split()[1]) for line in log.splitlines() if line.startswith("held ")]
    assert 100 - 24 <= held[-1] < 2 * 100  # stopped by the Hub's check near the limit, before the kernel's backstop
    spaces.api.delete_repo(space_id, repo_type="space")


def test_an_app_past_its_process_limit_is_stopped_with_a_line_in_its_log(spaces: Spaces) -> None:
    space_id = spaces.create(PROCESSES)
    log = spaces.stopped_at_limit(space_id, "it reached the Space limit of 24 processes and threads")
    children = [int(line.split()[1]) for line in log.splitlines() if line.startswith("CHILD ")]
    assert len(children) <= 24 and gone_within(children, 15)
    if os.geteuid() == 0:  # RLIMIT_NPROC, per uid: the kernel refused the fork past the limit (EAGAIN)
        assert "fork refused: 11" in log
    spaces.api.delete_repo(space_id, repo_type="space")


def test_an_app_past_its_file_size_limit_is_stopped_with_a_line_in_its_log(spaces: Spaces) -> None:
    space_id = spaces.create(FILE_SIZE)
    log = spaces.stopped_at_limit(space_id, "a file it wrote reached the Space file-size limit of 1 MiB")
    assert "write refused: errno 27" in log  # EFBIG: RLIMIT_FSIZE stopped the file at the limit
    spaces.api.delete_repo(space_id, repo_type="space")


def test_an_app_that_never_answers_does_not_delay_another_spaces_start(spaces: Spaces) -> None:
    blocking = spaces.create(BLOCKING)
    spaces.wait_for_line(blocking, "BLOCKING")  # started: it holds a start slot until its 90 s are up
    quick = spaces.create(SERVE)
    assert spaces.api.wait_for_space(quick, timeout=30).stage == "RUNNING"
    assert spaces.api.get_space_runtime(blocking).stage == "BUILDING"
    for space_id in (blocking, quick):
        spaces.api.delete_repo(space_id, repo_type="space")


def test_an_app_that_fills_its_work_folder_is_stopped_with_a_line_in_its_log(spaces: Spaces) -> None:
    space_id = spaces.create(DISK)
    log = spaces.stopped_at_limit(space_id, "its work folder reached the Space disk limit of 8 MiB (or 100000 entries)")
    parts = [int(line.split()[1]) for line in log.splitlines() if line.startswith("wrote ")]
    assert 16 <= parts[-1] < 64  # stopped once 8 MiB were there, long before its 32 MiB
    spaces.api.delete_repo(space_id, repo_type="space")


def test_an_app_at_its_open_files_limit_is_stopped_with_a_line_in_its_log(spaces: Spaces) -> None:
    space_id = spaces.create(OPEN_FILES)
    log = spaces.stopped_at_limit(space_id, "a process reached the Space limit of 64 open files")
    assert "open refused: errno 24" in log  # EMFILE: RLIMIT_NOFILE
    spaces.api.delete_repo(space_id, repo_type="space")


SESSION_AND_ESCAPE = """
import os, time
if os.fork() == 0:  # leaves the app's process group, not its session
    os.setpgid(0, 0)
    time.sleep(600)
    os._exit(0)
""" + ESCAPE


def test_without_a_uid_of_its_own_an_app_ends_with_its_session_and_a_setsid_process_outlives_it(tmp_path: Path) -> None:
    """What a Hub that is not root can do (docs/hub.md): the launcher without a uid, as such a Hub runs it."""
    import signal

    from hubtools.hub.space_process import Interpreter, IsolatedLauncher, RotatingLog
    from hubtools.ports import free_port
    from hubtools.space import LocalSpace

    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "README.md").write_text(README)
    (folder / "app.py").write_text(SESSION_AND_ESCAPE)
    log = RotatingLog(tmp_path / "logs" / "app.log")
    interpreter = Interpreter.open()
    watchdog_read, watchdog_write = os.pipe()
    launcher = IsolatedLauncher(log=log, environment={}, uid=None, interpreter=interpreter, watchdog_fd=watchdog_read, limits=LIMITS)
    space = LocalSpace(folder, port=free_port(), endpoint="http://127.0.0.1:9", log_path=log.path, launcher=launcher)
    escaped = None
    try:
        space.start(timeout=60)
        assert space.process is not None
        in_session = [int(pid) for pid in Path(f"/proc/{space.process.pid}/task/{space.process.pid}/children").read_text().split()]
        assert within(lambda: "ESCAPED " in log.tail(), 15)
        escaped = int(next(line for line in log.tail().splitlines() if line.startswith("ESCAPED ")).split()[1])
        space.stop()
        assert gone_within([space.process.pid, *in_session], 15)  # the app and its child in another group, same session
        assert alive(escaped)  # setsid left the session: only a uid of its own (a root Hub) ends it
    finally:
        if escaped is not None:
            os.kill(escaped, signal.SIGKILL)
        os.close(watchdog_write)
        os.close(watchdog_read)
        interpreter.close()
