"""The embedded Hub's Spaces: secrets and variables routes, and the runtime that runs Gradio Spaces on each commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

from hub_support import serves

ORG = "spaceorg"
SECRET = "s3cr3t-" + uuid.uuid4().hex
README = "---\ntitle: Echo\nsdk: gradio\napp_file: app.py\n---\n# Echo\n"
APP = """import os

import gradio as gr

print("greeting is", os.environ["GREETING"], "and the key is", os.environ["API_KEY"], flush=True)


def answer(name: str) -> str:
    return f"{os.environ['GREETING']}, {name}! key of {len(os.environ['API_KEY'])} chars in {os.environ['SPACE_ID']}"


gr.Interface(answer, "text", "text").launch()
"""
BROKEN_APP = "raise RuntimeError('boom: the app cannot start')\n"


def new_space(api, name: str) -> str:
    space_id = f"{ORG}/{name}-{uuid.uuid4().hex[:6]}"
    api.create_repo(space_id, repo_type="space", space_sdk="gradio")
    return space_id


def commit_app(api, space_id: str, app: str, message: str) -> None:
    api.create_commit(space_id, [CommitOperationAdd("README.md", README.encode()), CommitOperationAdd("app.py", app.encode())],
                      commit_message=message, repo_type="space")


def answers(endpoint: str, path: str, token: str | None = None) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return [httpx.get(endpoint + path, headers=headers).text]


def test_secrets_are_write_only_and_variables_readable(hub) -> None:
    owner = hub.token("sofia", [ORG])
    api = hub.api(owner)
    space_id = new_space(api, "settings")
    api.add_space_secret(space_id, "API_KEY", SECRET, description="for the demo")
    api.add_space_variable(space_id, "GREETING", "Hello", description="how to greet")
    secrets = api.get_space_secrets(space_id)
    assert list(secrets) == ["API_KEY"] and secrets["API_KEY"].description == "for the demo"
    assert secrets["API_KEY"].updated_at is not None
    variables = hub.api().get_space_variables(space_id)  # public, like the Space itself
    assert variables["GREETING"].value == "Hello" and variables["GREETING"].description == "how to greet"

    for stranger in (hub.api(), hub.api(hub.token("mallory"))):
        with pytest.raises(HfHubHTTPError) as refused:
            stranger.add_space_secret(space_id, "API_KEY", "overwritten")
        assert refused.value.response.status_code in (401, 403)
        with pytest.raises(HfHubHTTPError):
            stranger.get_space_secrets(space_id)
    with pytest.raises(HfHubHTTPError) as invalid:
        api.add_space_secret(space_id, "NOT A NAME", "x")
    assert invalid.value.response.status_code == 400

    commit_app(api, space_id, APP, "Add the app")
    seen = [json.dumps(api.get_space_runtime(space_id).raw), json.dumps(api.space_info(space_id).__dict__, default=str)]
    for path in (f"/api/spaces/{space_id}/secrets", f"/api/spaces/{space_id}/variables", f"/api/spaces/{space_id}",
                 f"/api/spaces/{space_id}/runtime", f"/api/spaces/{space_id}/logs/run", f"/spaces/{space_id}"):
        seen += answers(hub.endpoint, path, owner)
    assert all(SECRET not in text for text in seen)
    assert SECRET not in (hub.root / "server.log").read_text(errors="replace")
    assert api.get_space_runtime(space_id).stage == "STOPPED"  # this Hub runs no Spaces
    assert "--no-spaces" in httpx.get(f"{hub.endpoint}/spaces/{space_id}").text

    api.delete_space_secret(space_id, "API_KEY")
    assert api.delete_space_variable(space_id, "GREETING") == {}
    assert api.get_space_secrets(space_id) == {} and api.get_space_variables(space_id) == {}


def predict_in_a_fresh_process(endpoint: str, space_id: str, text: str) -> str:
    """gradio_client.Client("ORG/NAME") exactly as a user runs it, with HF_ENDPOINT naming the Hub."""
    script = (f"from gradio_client import Client\n"
              f"print(Client({space_id!r}, verbose=False).predict({text!r}, api_name='/answer'))")
    environment = {**os.environ, "HF_ENDPOINT": endpoint, "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.slow
def test_runtime_runs_each_commit_reports_errors_and_stops_with_the_hub(spaces_hub) -> None:
    api = spaces_hub.api(spaces_hub.token("sofia", [ORG]))
    space_id = new_space(api, "echo")
    api.add_space_secret(space_id, "API_KEY", SECRET)
    api.add_space_variable(space_id, "GREETING", "Hello")
    assert api.get_space_runtime(space_id).stage == "NO_APP_FILE"

    commit_app(api, space_id, APP, "Add the app")
    assert api.get_space_runtime(space_id).stage == "BUILDING"
    host = api.space_info(space_id).host
    assert host and host.startswith("http://127.0.0.1:")
    assert api.wait_for_space(space_id, timeout=600).stage == "RUNNING"
    assert predict_in_a_fresh_process(spaces_hub.endpoint, space_id, "Ada") == f"Hello, Ada! key of {len(SECRET)} chars in {space_id}"
    logs = "".join(api.fetch_space_logs(space_id))
    assert "greeting is Hello and the key is ***" in logs and SECRET not in logs
    page = httpx.get(f"{spaces_hub.endpoint}/spaces/{space_id}").text
    assert f'<iframe class="app" src="{host}/"' in page and "RUNNING" in page

    commit_app(api, space_id, BROKEN_APP, "Break the app")
    runtime = api.wait_for_space(space_id, timeout=600)
    assert runtime.stage == "RUNTIME_ERROR" and "boom: the app cannot start" in runtime.raw["errorMessage"]
    assert not serves(host)  # the previous app was stopped
    assert "boom: the app cannot start" in httpx.get(f"{spaces_hub.endpoint}/spaces/{space_id}").text

    commit_app(api, space_id, APP, "Fix the app")
    assert api.wait_for_space(space_id, timeout=600).stage == "RUNNING" and api.space_info(space_id).host == host
    spaces_hub.stop()  # SIGTERM: the Hub stops the apps it started
    try:
        assert not serves(host)
    finally:
        spaces_hub.start()
    assert api.get_space_runtime(space_id).stage in ("BUILDING", "RUNNING")  # restarted with the Hub
    api.delete_repo(space_id, repo_type="space")
