"""Fuzz every route of the embedded Hub from its own OpenAPI schema (schemathesis): no answer may be a 5xx.

The schema comes from the app (FastAPI builds it; the Hub does not serve it). Requests go over loopback to the
session's real Hub with a write token; routes naming a repo are pointed, half the time, at a repo that token owns,
so commits, settings, branches and discussions run their real checks rather than stopping at 404. Examples per
route are bounded so the whole run stays within a few minutes on a loaded machine.
"""

from __future__ import annotations

import re
import tempfile
import uuid
import zlib
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from hubtools.hub.app import create_app

EXAMPLES_PER_ROUTE = 25
FUZZ_USER = "fuzzer"
PLURALS = ("models", "datasets", "spaces")
DELIBERATE = {501, 507}  # an API the embedded Hub does not implement (named in the answer); a full disk


def declare_path_parameters(spec: dict) -> dict:
    """Routes read some path segments through dependencies or the raw path (`{plural}`, `{rest}`), so FastAPI does
    not list them; declare each as a string (`plural` as the three repo types) so the schema is valid."""
    for template, operations in spec["paths"].items():
        names = re.findall(r"{(\w+)(?::path)?}", template)
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            for name in (n for n in names if n not in declared):
                schema = {"enum": list(PLURALS)} if name == "plural" else {"type": "string", "minLength": 1}
                operation.setdefault("parameters", []).append({"name": name, "in": "path", "required": True, "schema": schema})
    return spec


def app_schema() -> schemathesis.BaseSchema:
    """The app's schema, built from an app on an empty throw-away root (needed at collection time)."""
    with tempfile.TemporaryDirectory(prefix="hubtools-fuzz-schema-") as root:
        return schemathesis.openapi.from_dict(declare_path_parameters(create_app(Path(root)).openapi()))


@pytest.fixture(scope="module")
def fuzz_token(hub) -> str:
    return hub.token(FUZZ_USER)


@pytest.fixture(scope="module")
def fuzz_repo(hub, fuzz_token) -> str:
    repo_id = f"{FUZZ_USER}/target-{uuid.uuid4().hex[:6]}"
    hub.stock_api(fuzz_token).create_repo(repo_id)
    return repo_id


schema = app_schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_route_answers_a_server_error(case, hub, fuzz_token, fuzz_repo):
    params = case.path_parameters or {}
    if {"namespace", "name"} <= params.keys() and zlib.crc32(repr(sorted(params.items())).encode()) % 2:
        params["namespace"], params["name"] = fuzz_repo.split("/")
        hub.stock_api(fuzz_token).create_repo(fuzz_repo, exist_ok=True)  # a fuzzed DELETE may have removed it
    response = case.call(base_url=hub.endpoint, headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=60)
    assert response.status_code < 500 or response.status_code in DELIBERATE, f"{response.status_code} {response.text[:300]}\n{case.as_curl_command()}"
