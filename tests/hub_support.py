"""Helpers shared by the embedded Hub's test modules: an org, unique repo ids, a writer token, a fresh repo,
whether a Space app answers, and a server process's memory figures."""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest

ORG = "acme"


def unique(prefix: str) -> str:
    return f"{ORG}/{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def writer(hub) -> str:
    return hub.token("alice", [ORG])


@pytest.fixture()
def repo(hub, writer) -> str:
    repo_id = unique("repo")
    hub.api(writer).create_repo(repo_id)
    return repo_id


def serves(url: str) -> bool:
    """Whether a (Space app) URL answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False
def proc_status_kb(pid: int, field: str) -> int:
    """A kB figure of /proc/PID/status: VmRSS, VmHWM (the peak; writing 5 to /proc/PID/clear_refs resets it), RssAnon..."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1])
