"""`hubtools space run` stops on a SIGINT sent to it alone, and takes its app process with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hubtools.ports import free_port

ORG = "signals"
APP = '''import http.server, os

class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

with open(os.environ["SPACE_PID_FILE"], "w") as handle:
    handle.write(str(os.getpid()))
http.server.HTTPServer(("127.0.0.1", int(os.environ["GRADIO_SERVER_PORT"])), Answer).serve_forever()
'''
README = "---\ntitle: signals\nsdk: gradio\napp_file: app.py\n---\nA Space whose app is a plain HTTP server.\n"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigint_to_space_run_alone_stops_it_and_its_app(hub, tmp_path: Path) -> None:
    token = hub.token("signaller", [ORG])
    api = hub.api(token)
    space_id = f"{ORG}/plain-demo"
    folder = tmp_path / "space"
    folder.mkdir()
    (folder / "app.py").write_text(APP, encoding="utf-8")
    (folder / "README.md").write_text(README, encoding="utf-8")
    api.create_repo(space_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    api.upload_folder(repo_id=space_id, repo_type="space", folder_path=folder)

    pid_file = tmp_path / "app.pid"
    env = os.environ | {"SPACE_PID_FILE": str(pid_file)}
    # started the way a script's background job is: with SIGINT ignored
    process = subprocess.Popen(
        [sys.executable, "-m", "hubtools.cli", "space", "run", space_id, "--port", str(free_port()), "--endpoint", hub.endpoint, "--token", token],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        for line in process.stdout:  # readiness: the line printed once the app answers on its port
            if line.startswith("Running on"):
                break
        else:
            raise AssertionError(f"space run ended before its app answered: {process.stderr.read()[-2000:]}")
        app_pid = int(pid_file.read_text(encoding="utf-8"))
        assert alive(app_pid)
        process.send_signal(signal.SIGINT)
        # A generous bound that holds at load 20: a run that ignored SIGINT would never exit.
        assert process.wait(timeout=120) == 0
        assert not alive(app_pid)
    finally:
        if process.poll() is None:
            process.kill()
