"""Helpers for the tests that run what a newcomer runs: a fresh shell's environment, waiting for a server a
command started, and the quickstart sample's deliberate label noise."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from hubtools.sample_data import TEMPLATES


def fresh_shell_environment(home: Path) -> dict[str, str]:
    """What a new login shell has: no venv on PATH, no HF_* variables; PYTHONPATH only when the tests set it
    (a checkout tested against a venv that has hubtools installed from elsewhere)."""
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return environment


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    """Until `url` answers; fails with the end of `log` when `process` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"nothing answered on {url}:\n{log.read_text()[-3000:]}")


def sample_style(text: str) -> str:
    """The label whose template wrote a quickstart sample comment; the sample's deliberately mislabelled rows carry another label."""
    for label, templates in TEMPLATES.items():
        for template in templates:
            if re.match(re.escape(template).replace(re.escape("{topic}"), ".+").replace(re.escape("{Topic}"), ".+"), text):
                return label
    raise AssertionError(f"no sample template wrote {text!r}")
