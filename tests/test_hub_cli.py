"""`hubtools hub token` / `seed-base-models` / `serve` as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from hubtools.hub import serve_in_background
from hubtools.ports import free_port


def hub_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubtools.cli", "hub", *args], capture_output=True, text=True, timeout=120)


def test_token_seed_and_serve_commands(tmp_path):
    root = str(tmp_path / "hub")
    token = hub_cli("token", "--root", root, "--user", "dave", "--org", "team", "--read-only")
    assert token.returncode == 0 and token.stdout.strip().startswith("hf_")
    first = hub_cli("seed-base-models", "--root", root)
    second = hub_cli("seed-base-models", "--root", root)
    assert "committed" in first.stdout and "already up to date" in second.stdout, first.stderr + second.stderr
    server = serve_in_background(tmp_path / "hub", port=free_port())
    try:
        whoami = httpx.get(f"{server.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert whoami.json()["name"] == "dave" and whoami.json()["orgs"][0]["name"] == "team"
        info = httpx.get(f"{server.endpoint}/api/models/sentence-transformers/all-MiniLM-L6-v2").json()
        assert "model.safetensors" in {s["rfilename"] for s in info["siblings"]}
    finally:
        server.stop()



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
    server = serve_in_background(tmp_path / "hub", port=free_port())
    try:
        whoami = httpx.get(f"{server.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {literal}"}).json()
        assert (whoami["name"], [org["name"] for org in whoami["orgs"]]) == ("__DUMMY_HUB_USER__", ["valid_org_hub"])
    finally:
        server.stop()


def test_full_name_is_what_whoami_shows_for_users_and_organizations(tmp_path):
    root = str(tmp_path / "hub")
    token = hub_cli("token", "--root", root, "--user", "erin", "--org", "lab", "--org", "guild").stdout.strip()
    for name, full_name in (("erin", "Erin Example"), ("lab", "The Lab")):
        assert hub_cli("full-name", "--root", root, "--name", name, "--full-name", full_name).returncode == 0
    refused = hub_cli("full-name", "--root", root, "--name", "a--b", "--full-name", "X")
    assert refused.returncode == 2 and "Invalid user or organization name 'a--b'" in refused.stderr
    server = serve_in_background(tmp_path / "hub", port=free_port())
    try:
        whoami = httpx.get(f"{server.endpoint}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).json()
        assert whoami["fullname"] == "Erin Example"
        assert {org["name"]: org["fullname"] for org in whoami["orgs"]} == {"lab": "The Lab", "guild": "guild"}
    finally:
        server.stop()
def test_serve_refuses_spaces_beyond_loopback_unless_root_or_allowed():
    from hubtools.errors import HubtoolsError
    from hubtools.hub.server import check_exposure

    with pytest.raises(HubtoolsError, match="--allow-untrusted-spaces"):
        check_exposure("0.0.0.0", spaces=True, allow_untrusted_spaces=False, euid=1000)
    for host, spaces, allowed, euid in (("127.0.0.1", True, False, 1000), ("0.0.0.0", False, False, 1000),
                                        ("0.0.0.0", True, True, 1000), ("0.0.0.0", True, False, 0)):
        check_exposure(host, spaces=spaces, allow_untrusted_spaces=allowed, euid=euid)  # served: no error
