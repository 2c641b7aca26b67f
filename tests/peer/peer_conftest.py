"""conftest.py for huggingface_hub's own tests run against the embedded Hub (copied into the suite by peer_harness).

The sdist ships `tests/` without its conftest.py: this one provides the fixtures the selected tests use
(`api`, `repo_factory`, `RepoFactory`), the suite's markers, an isolated cache per test, the deselections the
harness passes in PEER_SELECTION, and a JSON report (PEER_REPORT) of each test's outcome and whether it sent a
request to the Hub. Python connections beyond loopback are refused, so no test reaches out.
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx2
import pytest

from huggingface_hub import HfApi, RepoUrl, constants

from .testing_constants import ENDPOINT_STAGING, TOKEN, USER
from .testing_utils import repo_name

_HUB = httpx2.URL(ENDPOINT_STAGING)
_results: dict[str, dict[str, Any]] = {}
_current: dict[str, Any] = {"nodeid": None, "fixtures": []}  # the running test, the shared fixtures setting up
_contacted: set[str] = set()  # node ids of tests that sent a request to the Hub
_contacted_fixtures: set[int] = set()  # class/module/session fixtures that did (their tests count as Hub tests)


# ---------------------------------------------------------------- no request leaves the machine


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # AF_UNIX and other non-IP families stay on the machine
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _guarded(connect):
    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise OSError(f"peer harness: connections beyond loopback are refused ({address!r})")
        return connect(self, address)

    return guarded_connect


socket.socket.connect = _guarded(socket.socket.connect)
socket.socket.connect_ex = _guarded(socket.socket.connect_ex)


# ---------------------------------------------------------------- which tests send requests to the Hub


def _note_request(request: httpx2.Request) -> None:
    if (request.url.host, request.url.port) != (_HUB.host, _HUB.port):
        return
    if _current["nodeid"]:
        _contacted.add(_current["nodeid"])
    _contacted_fixtures.update(id(fixturedef) for fixturedef in _current["fixtures"])


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest):
    shared = fixturedef.scope != "function"
    if shared:
        _current["fixtures"].append(fixturedef)
    try:
        return (yield)
    finally:
        if shared:
            _current["fixtures"].pop()


def _uses_contacted_fixture(item: pytest.Item) -> bool:
    definitions = getattr(item, "_fixtureinfo").name2fixturedefs.values()
    return any(id(fixturedef) in _contacted_fixtures for defs in definitions for fixturedef in defs)


def _recording(handle):
    def handle_request(self, request):
        _note_request(request)
        return handle(self, request)

    return handle_request


def _recording_async(handle):
    async def handle_async_request(self, request):
        _note_request(request)
        return await handle(self, request)

    return handle_async_request


httpx2.HTTPTransport.handle_request = _recording(httpx2.HTTPTransport.handle_request)
httpx2.AsyncHTTPTransport.handle_async_request = _recording_async(httpx2.AsyncHTTPTransport.handle_async_request)


# ---------------------------------------------------------------- markers and selection


def pytest_configure(config: pytest.Config) -> None:
    for marker in ("api", "transfer", "inference", "xet", "no_xet", "production", "deprecated", "git_lfs", "vcr"):
        config.addinivalue_line("markers", f"{marker}: huggingface_hub test-suite marker")


def _deselection_reason(item: pytest.Item, rules: list[dict[str, str]]) -> str | None:
    for rule in rules:
        if rule["by"] == "marker" and item.get_closest_marker(rule["value"]) is not None:
            return rule["reason"]
        if rule["by"] == "keyword" and rule["value"] in item.nodeid:
            return rule["reason"]
        if rule["by"] == "source" and rule["value"] in inspect.getsource(getattr(item, "function")):
            return rule["reason"]
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selection = Path(os.environ["PEER_SELECTION"])
    rules = json.loads(selection.read_text())
    kept, dropped = [], []
    for item in items:
        (dropped if _deselection_reason(item, rules) else kept).append(item)
        if item.get_closest_marker("no_xet") is not None:
            item.add_marker(pytest.mark.skip(reason="needs hf_xet absent; it is installed"))
        if item.get_closest_marker("git_lfs") is not None and not os.environ.get("RUN_GIT_LFS_TESTS"):
            item.add_marker(pytest.mark.skip(reason="git-lfs tests run only with RUN_GIT_LFS_TESTS"))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


# ---------------------------------------------------------------- report


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _current["nodeid"] = nodeid


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _uses_contacted_fixture(item):
        _contacted.add(item.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if report.skipped and report.when != "teardown":
        entry["outcome"] = "skipped"
    elif report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
        crash = getattr(report.longrepr, "reprcrash", None)
        entry["message"] = crash.message if crash is not None else str(report.longrepr)[-2000:]


def pytest_sessionfinish(session: pytest.Session) -> None:
    for nodeid, entry in _results.items():
        entry["hub"] = nodeid in _contacted
    Path(os.environ["PEER_REPORT"]).write_text(json.dumps(_results, indent=1))


# ---------------------------------------------------------------- fixtures the selected tests use


class RepoFactory(Protocol):
    def __call__(self, repo_type: str = "model", repo_id: str | None = None, token: str = TOKEN, **kwargs: Any) -> RepoUrl: ...


@pytest.fixture(scope="session")
def api() -> HfApi:
    return HfApi(endpoint=ENDPOINT_STAGING, token=TOKEN)


@pytest.fixture
def repo_factory(api: HfApi) -> Iterator[RepoFactory]:
    """Creates repos (the suite's user by default, another with `token=`); deletes them after the test."""
    created: list[tuple[str, str, str]] = []

    def create(repo_type: str = "model", repo_id: str | None = None, token: str = TOKEN, **kwargs: Any) -> RepoUrl:
        url = api.create_repo(repo_id or repo_name(), repo_type=repo_type, token=token, **kwargs)
        created.append((url.repo_id, repo_type, token))
        return url

    yield create
    for repo_id, repo_type, token in created:
        try:
            api.delete_repo(repo_id, repo_type=repo_type, token=token, missing_ok=True)
        except Exception:  # noqa: BLE001 - a test may have moved or deleted it; cleanup must not hide its outcome
            pass


@pytest.fixture
def new_repo_id(api: HfApi) -> Iterator[str]:
    """A repo id of the suite's user that does not exist yet; deleted after the test if the test created it."""
    repo_id = f"{USER}/{repo_name()}"
    yield repo_id
    api.delete_repo(repo_id, missing_ok=True)


@pytest.fixture(autouse=True)
def isolated_hf_paths(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own cache, token file and assets folder, as the suite's CI does."""
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HUGGINGFACE_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_ASSETS_CACHE", str(home / "assets"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_EXPERIMENTAL_WARNING", True)
