"""A Space app runs apart from the embedded Hub: another OS user, its own environment, folder and process group.

One real Hub with Spaces on (this module's own, so its server process holds a fake secret in its environment) runs
one real Gradio app that reports what it can see into its log, which the tests read through the logs API.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from hub_support import alive, gone_within, serves, within

from hubtools.hub import BackgroundHub
from hubtools.hub.space_process import LOG_CHUNK_BYTES, LOG_MAX_BYTES

ORG = "isolation"
SERVER_SECRET = "server-only-" + uuid.uuid4().hex
SPACE_SECRET = "space-secret-" + uuid.uuid4().hex
FLOOD_BYTES = 3 * 1024 * 1024
README = "---\ntitle: Probe\nsdk: gradio\napp_file: src/app.py\n---\n"
WRONG_APP = "raise SystemExit('the root app.py ran instead of src/app.py')\n"
HELPER = "ANSWER = 'helper imported from src'\n"
PROBE = """import json, os, subprocess, sys

import gradio as gr

from helper import ANSWER

root = os.environ["HUB_ROOT"]


def can_open(path):
    try:
        open(path, "rb").close()
        return True
    except OSError:
        return False


def can_list(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


with open("written-by-the-app.txt", "w") as handle:
    handle.write("mine")
child = subprocess.Popen(["sleep", "600"])
for _ in range(int(os.environ.get("FLOOD_LINES", "0"))):
    print("x" * 1023)
report = {
    "uid": os.getuid(), "pid": os.getpid(), "child": child.pid, "cwd": os.getcwd(), "home": os.environ["HOME"],
    "environment": dict(os.environ), "secret_reversed": os.environ["API_KEY"][::-1], "helper": ANSWER, "lists_root": can_list(root),
    "opens": {name: can_open(os.path.join(root, name)) for name in ("hub.sqlite", "lfs-secret.key", "spaces-secrets.key")},
}
print("REPORT " + json.dumps(report), flush=True)
gr.Interface(lambda text: text, "text", "text").launch()
"""


class Probe:
    def __init__(self, server: BackgroundHub, token: str) -> None:
        from hubtools.hubclient import hub_api

        self.server = server
        self.api = hub_api(endpoint=server.endpoint, token=token)
        self.space_id = f"{ORG}/probe-{uuid.uuid4().hex[:6]}"

    @property
    def root(self) -> Path:
        return self.server.root

    def commit(self, files: dict[str, str], message: str) -> None:
        operations = [CommitOperationAdd(path, text.encode()) for path, text in files.items()]
        self.api.create_commit(self.space_id, operations, commit_message=message, repo_type="space")

    def report(self) -> dict:
        """The last REPORT line the running app printed, read through the logs API."""
        lines = [line for line in "".join(self.api.fetch_space_logs(self.space_id)).splitlines() if line.startswith("REPORT ")]
        assert lines, "the app printed no report"
        return json.loads(lines[-1].removeprefix("REPORT "))

    def wait_running(self) -> None:
        runtime = self.api.wait_for_space(self.space_id, timeout=600)
        assert runtime.stage == "RUNNING", runtime.raw


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    from hubtools.hub import issue_token

    root = tmp_path_factory.mktemp("isolation") / "hub"
    server = BackgroundHub(root, spaces=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUBTOOLS_TEST_SERVER_SECRET", SERVER_SECRET)  # in the Hub process's environment only
        server.start()
    probe = Probe(server, issue_token(root, "ines", [ORG]))
    probe.api.create_repo(probe.space_id, repo_type="space", space_sdk="gradio")
    probe.api.add_space_variable(probe.space_id, "HUB_ROOT", str(root))
    probe.api.add_space_variable(probe.space_id, "FLOOD_LINES", str(FLOOD_BYTES // 1024))
    probe.api.add_space_secret(probe.space_id, "API_KEY", SPACE_SECRET)
    probe.commit({"README.md": README, "app.py": WRONG_APP, "src/app.py": PROBE, "src/helper.py": HELPER}, "Add the probe")
    probe.wait_running()
    yield probe
    server.stop()


def test_app_cannot_read_the_hub_root(probe: Probe) -> None:
    report = probe.report()
    assert report["opens"] == {"hub.sqlite": False, "lfs-secret.key": False, "spaces-secrets.key": False}
    assert report["lists_root"] is False
    if os.geteuid() == 0:  # a Hub run as root switches each app to a uid of its own
        assert report["uid"] != 0
    assert (probe.root.stat().st_mode & 0o777) == 0o700


def test_app_sees_only_its_own_environment(probe: Probe) -> None:
    environment = probe.report()["environment"]
    assert "HUBTOOLS_TEST_SERVER_SECRET" not in environment and SERVER_SECRET not in json.dumps(environment)
    assert "PYTHONPATH" not in environment and "HF_TOKEN" not in environment
    assert environment["API_KEY"] == "***" and probe.report()["secret_reversed"] == SPACE_SECRET[::-1]  # masked in logs
    assert environment["HUB_ROOT"] == str(probe.root)
    assert environment["HF_ENDPOINT"] == probe.server.endpoint and environment["SPACE_ID"] == probe.space_id
    assert environment["HOME"] == probe.report()["cwd"]


def test_app_file_in_a_subfolder_runs_that_file(probe: Probe) -> None:
    report = probe.report()
    assert report["helper"] == "helper imported from src"  # src/app.py ran, with src/ on its import path
    assert Path(report["cwd"]).name != "src"  # from the Space's root, as huggingface.co runs `python src/app.py`


def test_secrets_are_encrypted_at_rest(probe: Probe) -> None:
    database = (probe.root / "hub.sqlite").read_bytes()
    assert SPACE_SECRET.encode() not in database
    with sqlite3.connect(probe.root / "hub.sqlite") as db:
        stored = db.execute("SELECT value FROM space_settings WHERE key = 'API_KEY'").fetchone()[0]
    assert stored and SPACE_SECRET not in stored
    assert (probe.root / "spaces-secrets.key").stat().st_mode & 0o777 == 0o600
    assert probe.report()["secret_reversed"] == SPACE_SECRET[::-1]  # the app still gets the value


def test_logs_are_capped_and_read_from_the_end(probe: Probe) -> None:
    logs = probe.root / "spaces-logs"
    on_disk = sum(path.stat().st_size for path in logs.iterdir())
    assert on_disk <= 2 * LOG_MAX_BYTES + LOG_CHUNK_BYTES < FLOOD_BYTES
    answer = httpx.get(f"{probe.server.endpoint}/api/spaces/{probe.space_id}/logs/run",
                       headers={"Authorization": f"Bearer {probe.api.token}"}, timeout=60).text
    assert len(answer) < FLOOD_BYTES // 2 and "REPORT " in answer  # the latest output, not all of it


def test_get_requests_never_restart_the_app(probe: Probe) -> None:
    """A commit made behind the server's back (as `hubtools hub seed-base-models` does) is not run by a GET."""
    from hubtools.hub.store import HubStore

    before = probe.api.get_space_runtime(probe.space_id).raw["sha"]
    store = HubStore(probe.root)
    repo = store.get_repo("space", *probe.space_id.split("/"))
    notes = dataclasses.replace(store.put_bytes(b"# out of band\n"), path="NOTES.md")
    store.apply_commit(repo, "main", [notes], "ines", "Out of band", "")
    for path in (f"/api/spaces/{probe.space_id}", f"/api/spaces/{probe.space_id}/runtime", f"/spaces/{probe.space_id}"):
        assert httpx.get(probe.server.endpoint + path, timeout=60).status_code == 200
    runtime = probe.api.get_space_runtime(probe.space_id)
    assert runtime.stage == "RUNNING" and runtime.raw["sha"] == before


def test_a_merged_pull_request_restarts_the_app(probe: Probe) -> None:
    """GETs no longer start apps, so every route that moves main does: here a PR merge."""
    operations = [CommitOperationAdd("src/helper.py", b"ANSWER = 'merged helper'\n")]
    pr = probe.api.create_commit(probe.space_id, operations, commit_message="New helper", repo_type="space", create_pr=True)
    probe.api.merge_pull_request(probe.space_id, pr.pr_num, repo_type="space")
    head = probe.api.space_info(probe.space_id).sha
    probe.wait_running()
    assert probe.api.get_space_runtime(probe.space_id).raw["sha"] == head
    assert probe.report()["helper"] == "merged helper"


def test_a_head_without_gradio_stops_the_app_its_children_and_its_folder(probe: Probe) -> None:
    report = probe.report()
    host = probe.api.space_info(probe.space_id).host
    assert alive(report["pid"]) and alive(report["child"]) and Path(report["cwd"]).is_dir()
    probe.commit({"README.md": "---\ntitle: Probe\nsdk: static\n---\n"}, "Not Gradio any more")
    assert gone_within([report["pid"], report["child"]])  # the whole process group, the `sleep` child included
    assert not serves(host) and not Path(report["cwd"]).exists()
    assert probe.api.get_space_runtime(probe.space_id).stage in ("STOPPED", "NO_APP_FILE")
    assert not any((probe.root / "spaces-logs").iterdir())  # a stopped app's log goes with it


def test_apps_and_their_children_die_with_a_killed_hub(probe: Probe) -> None:
    probe.commit({"README.md": README}, "Gradio again")
    probe.wait_running()
    report = probe.report()
    assert alive(report["pid"]) and alive(report["child"])
    probe.server.kill()  # SIGKILL: the Hub runs no clean-up
    assert gone_within([report["pid"], report["child"]])
    work_root = Path(report["cwd"]).parent
    if os.geteuid() == 0:  # the Hub's reaper removes the apps' work folders
        assert within(lambda: not work_root.exists(), 15)
    else:  # the app emptied its work folder before it went; the killed Hub leaves its temporary folder
        assert not any(Path(report["cwd"]).iterdir())
        shutil.rmtree(work_root)


def test_plain_text_secrets_of_an_older_hub_are_encrypted_when_it_starts(tmp_path: Path) -> None:
    from hubtools.hub.spaces import SpacesRuntime
    from hubtools.hub.store import HubStore

    store = HubStore(tmp_path / "hub")
    repo = store.create_repo("space", ORG, "older", False, "gradio", "ines")
    store.set_space_setting(repo, "secret", "API_KEY", SPACE_SECRET, None)  # as a Hub before encryption stored it
    runtime = SpacesRuntime(store, endpoint=None)  # what `hubtools hub serve` builds at start
    stored = store.space_settings(repo, "secret")["API_KEY"].value
    assert SPACE_SECRET not in stored and SPACE_SECRET.encode() not in (tmp_path / "hub" / "hub.sqlite").read_bytes()
    assert runtime.secret_box.secrets(store, repo) == {"API_KEY": SPACE_SECRET}


def test_a_removed_log_stays_removed_while_the_apps_output_is_still_in_flight(tmp_path: Path) -> None:
    """A stopped app's pump may still hold output (and reach the rotation size): it drains it and writes no file."""
    import threading

    from hubtools.hub.space_process import LOG_MAX_BYTES, RotatingLog

    log = RotatingLog(tmp_path / "logs" / "app.log")
    read_end, write_end = os.pipe()
    pump = threading.Thread(target=log.pump, args=(os.fdopen(read_end, "rb"),))
    pump.start()
    with os.fdopen(write_end, "wb") as app_output:
        app_output.write(b"before\n" * 1000)
        app_output.flush()
        log.remove()
        for _ in range(3):  # past the rotation size, after the removal
            app_output.write(b"x" * LOG_MAX_BYTES)
    pump.join(timeout=60)
    assert not pump.is_alive() and list((tmp_path / "logs").iterdir()) == []
