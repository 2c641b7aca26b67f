"""`hubtools hub token` / `seed-base-models` / `serve` as a user runs them."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from hubtools.hub import BackgroundHub, serve_in_background
from hubtools.hub.server import answers_as


def hub_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubtools.cli", "hub", *args], capture_output=True, text=True, timeout=120)


def test_token_seed_and_serve_commands(tmp_path):
    root = str(tmp_path / "hub")
    token = hub_cli("token", "--root", root, "--user", "dave", "--org", "team", "--read-only")
    assert token.returncode == 0 and token.stdout.strip().startswith("hf_")
    first = hub_cli("seed-base-models", "--root", root, "--no-base-size")  # MPNet, when installed: tests/test_seed_parts.py
    second = hub_cli("seed-base-models", "--root", root, "--no-base-size")
    assert "committed" in first.stdout and "already up to date" in second.stdout, first.stderr + second.stderr
    server = serve_in_background(tmp_path / "hub")
    try:
        whoami = httpx.get(f"{server.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert whoami.json()["name"] == "dave" and whoami.json()["orgs"][0]["name"] == "team"
        info = httpx.get(f"{server.endpoint}/api/models/sentence-transformers/all-MiniLM-L6-v2").json()
        assert "model.safetensors" in {s["rfilename"] for s in info["siblings"]}
    finally:
        server.close()



def test_token_value_registers_a_literal_token_for_any_name_the_hub_accepts(tmp_path):
    root = str(tmp_path / "hub")
    literal = "hf_SuiteTokenXXXXXXXXXXXXXXXXXXXX"
    made = hub_cli("token", "--root", root, "--user", "__DUMMY_HUB_USER__", "--org", "valid_org_hub", "--value", literal)
    assert made.returncode == 0 and made.stdout == "", made.stderr  # the caller knows the value: nothing is printed
    taken = hub_cli("token", "--root", root, "--user", "someone_else", "--value", literal)
    assert taken.returncode == 2 and "already registered for another user" in taken.stderr
    bad_name = hub_cli("token", "--root", root, "--user", "a--b")
    bad_value = hub_cli("token", "--root", root, "--user", "dave", "--value", "has space")
    assert bad_name.returncode == 2 and "Invalid user or organization name 'a--b'" in bad_name.stderr
    assert bad_value.returncode == 2 and "Invalid --value" in bad_value.stderr
    server = serve_in_background(tmp_path / "hub")
    try:
        whoami = httpx.get(f"{server.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {literal}"}).json()
        assert (whoami["name"], [org["name"] for org in whoami["orgs"]]) == ("__DUMMY_HUB_USER__", ["valid_org_hub"])
    finally:
        server.close()


def test_full_name_is_what_whoami_shows_for_users_and_organizations(tmp_path):
    root = str(tmp_path / "hub")
    token = hub_cli("token", "--root", root, "--user", "erin", "--org", "lab", "--org", "guild").stdout.strip()
    for name, full_name in (("erin", "Erin Example"), ("lab", "The Lab")):
        assert hub_cli("full-name", "--root", root, "--name", name, "--full-name", full_name).returncode == 0
    refused = hub_cli("full-name", "--root", root, "--name", "a--b", "--full-name", "X")
    assert refused.returncode == 2 and "Invalid user or organization name 'a--b'" in refused.stderr
    server = serve_in_background(tmp_path / "hub")
    try:
        whoami = httpx.get(f"{server.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).json()
        assert whoami["fullname"] == "Erin Example"
        assert {org["name"]: org["fullname"] for org in whoami["orgs"]} == {"lab": "The Lab", "guild": "guild"}
    finally:
        server.close()


def test_an_org_private_by_default_gets_private_repos_unless_the_creator_asks_otherwise(tmp_path):
    from huggingface_hub import HfApi

    root = str(tmp_path / "hub")
    token = hub_cli("token", "--root", root, "--user", "ada", "--org", "enterprise").stdout.strip()
    made = hub_cli("default-visibility", "--root", root, "--name", "enterprise", "--private")
    assert made.returncode == 0, made.stderr
    refused = hub_cli("default-visibility", "--root", root, "--name", "a--b", "--private")
    assert refused.returncode == 2 and "Invalid user or organization name 'a--b'" in refused.stderr
    server = serve_in_background(tmp_path / "hub")
    try:
        api = HfApi(endpoint=server.endpoint, token=token)
        api.create_repo("enterprise/by-default")
        api.create_repo("enterprise/asked-public", private=False)
        api.create_repo("ada/personal")
        visibility = {repo: api.model_info(repo).private for repo in ("enterprise/by-default", "enterprise/asked-public", "ada/personal")}
        assert visibility == {"enterprise/by-default": True, "enterprise/asked-public": False, "ada/personal": False}
        assert hub_cli("default-visibility", "--root", root, "--name", "enterprise", "--public").returncode == 0
        api.create_repo("enterprise/after")
        assert api.model_info("enterprise/after").private is False
    finally:
        server.close()


def test_serve_refuses_spaces_beyond_loopback_unless_root_or_allowed():
    from hubtools.errors import HubtoolsError
    from hubtools.hub.server import check_exposure

    with pytest.raises(HubtoolsError, match="--allow-untrusted-spaces"):
        check_exposure("0.0.0.0", spaces=True, allow_untrusted_spaces=False, euid=1000)
    for host, spaces, allowed, euid in (("127.0.0.1", True, False, 1000), ("0.0.0.0", False, False, 1000),
                                        ("0.0.0.0", True, True, 1000), ("0.0.0.0", True, False, 0)):
        check_exposure(host, spaces=spaces, allow_untrusted_spaces=allowed, euid=euid)  # served: no error
def test_serve_on_port_0_reports_the_port_it_bound(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "hubtools.cli", "hub", "serve", "--root", str(tmp_path / "hub"), "--port", "0",
                               "--no-spaces"], stderr=subprocess.PIPE, text=True)
    try:
        announced = server.stderr.readline()  # printed once the port is bound, before the app is built
        endpoint = announced.split()[3]
        assert endpoint.startswith("http://127.0.0.1:") and not endpoint.endswith(":0"), announced
        response = httpx.get(f"{endpoint}/api/whoami-v2", timeout=60)  # waits in the backlog while the app starts
        assert response.status_code == 401 and response.headers["X-Hubtools-Instance"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_background_hub_holds_its_port_and_is_ready_only_when_it_answers_itself(tmp_path):
    hub = BackgroundHub(tmp_path / "hub")  # port 0: bound now, before the server starts
    try:
        assert hub.port != 0
        with socket.socket() as intruder:  # nobody else can take the port, not even between stop and start
            with pytest.raises(OSError):
                intruder.bind(("127.0.0.1", hub.port))
        hub.start()
        assert answers_as(hub.endpoint, hub.instance)
        assert not answers_as(hub.endpoint, "another-instance")  # another Hub on this port would not pass for this one
        hub.stop()
        with pytest.raises(httpx.ConnectError):  # stopped: refused, as a stopped server is
            httpx.get(f"{hub.endpoint}/api/whoami-v2")
        with socket.socket() as intruder, pytest.raises(OSError):
            intruder.bind(("127.0.0.1", hub.port))
        hub.start()
        assert answers_as(hub.endpoint, hub.instance)
    finally:
        hub.close()


def test_a_server_that_is_not_this_hub_is_not_taken_for_it():
    foreign = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=foreign.serve_forever, daemon=True)
    thread.start()
    try:
        assert not answers_as(f"http://127.0.0.1:{foreign.server_address[1]}", "any-instance")
    finally:
        foreign.shutdown()
        foreign.server_close()


def test_serve_on_a_busy_port_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = hub_cli("serve", "--root", str(tmp_path / "hub"), "--port", str(port), "--no-spaces")
    assert refused.returncode == 2
    assert refused.stderr == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; pick another --port (0: any free one)\n"
