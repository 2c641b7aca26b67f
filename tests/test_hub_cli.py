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



def test_serve_refuses_spaces_beyond_loopback_unless_root_or_allowed():
    from hubtools.errors import HubtoolsError
    from hubtools.hub.server import check_exposure

    with pytest.raises(HubtoolsError, match="--allow-untrusted-spaces"):
        check_exposure("0.0.0.0", spaces=True, allow_untrusted_spaces=False, euid=1000)
    for host, spaces, allowed, euid in (("127.0.0.1", True, False, 1000), ("0.0.0.0", False, False, 1000),
                                        ("0.0.0.0", True, True, 1000), ("0.0.0.0", True, False, 0)):
        check_exposure(host, spaces=spaces, allow_untrusted_spaces=allowed, euid=euid)  # served: no error
