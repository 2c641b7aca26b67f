"""How fast the embedded Hub ends a Space that tries to outlive it (docs/hub.md, "What a Space can and cannot do").

A plain-Python app starts ESCAPEES processes that each double-fork and call setsid, then serves HTTP. Measured: the
time from `delete_repo` to the last of its processes gone, and from SIGKILL of the Hub to the last gone (the reaper).
Needs root (a Space has a uid of its own only then).

    PYTHONPATH=src python benchmarks/space_containment.py [ESCAPEES]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from huggingface_hub import CommitOperationAdd

from hubtools.hub import BackgroundHub, issue_token
from hubtools.hub.space_reaper import processes_of_uids, space_uid
from hubtools.hubclient import hub_api

README = "---\ntitle: Escapes\nsdk: gradio\napp_file: app.py\n---\n"
APP = """
import http.server, os, time
for _ in range({escapees}):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(3600)
        os._exit(0)
    os.wait()
http.server.HTTPServer(("127.0.0.1", int(os.environ["GRADIO_SERVER_PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def seconds_until_none(uid: int, started: float) -> float:
    while processes_of_uids(range(uid, uid + 1)):
        time.sleep(0.005)
    return time.monotonic() - started


def uid_of(root: Path, space_id: str) -> int:
    from hubtools.hub.store import HubStore

    uid = space_uid(root, HubStore(root).get_repo("space", *space_id.split("/")).pk)
    assert uid is not None
    return uid


def start_space(api, name: str, escapees: int) -> str:
    space_id = f"bench/{name}"
    api.create_repo(space_id, repo_type="space", space_sdk="gradio")
    operations = [CommitOperationAdd("README.md", README.encode()), CommitOperationAdd("app.py", APP.format(escapees=escapees).encode())]
    api.create_commit(space_id, operations, commit_message="App", repo_type="space")
    assert api.wait_for_space(space_id, timeout=300).stage == "RUNNING"
    return space_id


def main(escapees: int) -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: only then does each Space have a uid of its own")
    root = Path(tempfile.mkdtemp(prefix="space-containment-")) / "hub"
    server = BackgroundHub(root, spaces=True).start()
    api = hub_api(endpoint=server.endpoint, token=issue_token(root, "bench", ["bench"]))
    try:
        space_id = start_space(api, "deleted", escapees)
        uid = uid_of(root, space_id)
        pids = processes_of_uids(range(uid, uid + 1))
        started = time.monotonic()
        api.delete_repo(space_id, repo_type="space")
        print(f"delete_repo: {len(pids)} processes of the Space (app + {escapees} escaped) gone in {seconds_until_none(uid, started):.3f} s")
        space_id = start_space(api, "hub-killed", escapees)
        uid = uid_of(root, space_id)
        pids = processes_of_uids(range(uid, uid + 1))
        started = time.monotonic()
        server.kill()
        print(f"Hub SIGKILL: {len(pids)} processes of the Space gone in {seconds_until_none(uid, started):.3f} s (the reaper)")
    finally:
        server.close()
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
