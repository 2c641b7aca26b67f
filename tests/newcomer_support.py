"""Helpers for the newcomer tests: a fresh shell's environment, and the quickstart sample's deliberate label noise."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hubtools.sample_data import TEMPLATES


def fresh_shell_environment(home: Path) -> dict[str, str]:
    """What a new login shell has: no venv on PATH, no HF_* variables; PYTHONPATH only when the tests set it
    (a checkout tested against a venv that has hubtools installed from elsewhere)."""
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return environment


def sample_style(text: str) -> str:
    """The label whose template wrote a quickstart sample comment; the sample's deliberately mislabelled rows carry another label."""
    for label, templates in TEMPLATES.items():
        for template in templates:
            if re.match(re.escape(template).replace(re.escape("{topic}"), ".+").replace(re.escape("{Topic}"), ".+"), text):
                return label
    raise AssertionError(f"no sample template wrote {text!r}")
