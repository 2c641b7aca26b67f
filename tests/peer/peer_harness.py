"""Run huggingface_hub's own Hub tests against a fresh embedded Hub and tabulate the outcome per module.

    python tests/peer/peer_harness.py            # prints the per-module table and every failure

Steps: fetch the sdist of the INSTALLED huggingface_hub from the package index (cached), copy its `tests/` with
our conftest, point the staging endpoint at a fresh `hubtools hub serve`, create the suite's users, orgs and
literal tokens with `hubtools hub token --value`, and run the selected modules with the suite's own pytest in a
subprocess (so it never sees hubtools' tests/conftest.py), isolated from the user's HF_HOME and hf_xet cache.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peer_expectations import DESELECTED, MODULES  # noqa: E402

from hubtools.hub import BackgroundHub  # noqa: E402
from hubtools.ports import LOOPBACK, free_port  # noqa: E402

STAGING_ENDPOINT = "https://hub-ci.huggingface.co"
OFFLINE_TIMEOUT_HOST = "https://10.255.255.1"  # testing_utils.offline(CONNECTION_TIMES_OUT) points requests here
# pip's words when it cannot reach the index (offline machine): the only case the peer test skips
UNREACHABLE_MARKERS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
)


class PeerUnavailable(Exception):
    """The package index cannot be reached and the sdist is not cached: the peer run cannot happen here."""


class PeerSetupError(Exception):
    """The peer run could not be prepared (sdist layout changed, pip failed for another reason, ...)."""


@dataclass(frozen=True)
class Outcome:
    outcome: str  # passed, failed, error, skipped
    hub: bool  # the test sent at least one request to the Hub
    message: str


def installed_version() -> str:
    return importlib.metadata.version("huggingface_hub")


def cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hubtools" / "peer"
    return Path(os.environ.get("HUBTOOLS_PEER_CACHE", default))


def fetch_tests(version: str, cache: Path | None = None) -> Path:
    """The `tests/` folder of huggingface_hub==version's sdist, downloaded once into the cache."""
    cache = cache or cache_root()
    extracted = cache / f"huggingface_hub-{version}" / "tests"
    if (extracted / "testing_constants.py").is_file():
        return extracted
    sdist_dir = cache / "sdist"
    sdist = sdist_dir / f"huggingface_hub-{version}.tar.gz"
    if not sdist.is_file():
        _download_sdist(version, sdist_dir)
    staging = Path(tempfile.mkdtemp(prefix="extract-", dir=cache))
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(f"huggingface_hub-{version}/tests/")]
        if not members:
            raise PeerSetupError(f"{sdist} holds no tests/ folder: the sdist layout changed")
        archive.extractall(staging, members=members, filter="data")
    extracted.parent.mkdir(parents=True, exist_ok=True)
    (staging / f"huggingface_hub-{version}" / "tests").rename(extracted)
    shutil.rmtree(staging)
    return extracted


def _download_sdist(version: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
               "--retries", "1", "--timeout", "20", f"huggingface_hub=={version}", "-d", str(target)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    if any(marker in output for marker in UNREACHABLE_MARKERS):
        raise PeerUnavailable(f"the package index is unreachable, so huggingface_hub=={version}'s sdist cannot be fetched")
    raise PeerSetupError(f"`{' '.join(command)}` failed:\n{output[-3000:]}")


def prepare_suite(tests: Path, work: Path, endpoint: str, offline_host: str) -> Path:
    """Copy the suite into `work/tests` as a package with our conftest; the staging host becomes `endpoint`."""
    suite = work / "tests"
    shutil.copytree(tests, suite)
    (suite / "__init__.py").write_text("")
    shutil.copy(HERE / "peer_conftest.py", suite / "conftest.py")
    for path in suite.glob("*.py"):
        text = path.read_text()
        if STAGING_ENDPOINT in text:
            path.write_text(text.replace(STAGING_ENDPOINT, endpoint))
    _replace_once(suite / "testing_utils.py", OFFLINE_TIMEOUT_HOST, offline_host)
    if endpoint not in (suite / "testing_constants.py").read_text():
        raise PeerSetupError(f"testing_constants.py no longer names {STAGING_ENDPOINT}: update peer_harness")
    (work / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return suite


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise PeerSetupError(f"{path.name} no longer holds {old!r} exactly once: update peer_harness")
    path.write_text(text.replace(old, new))


SUITE_ORG = ("valid_org_hub", "Dummy Hub Org")  # the org test_hf_api's whoami test expects the user to be in


@dataclass(frozen=True)
class Account:
    user: str
    token: str
    orgs: tuple[str, ...] = ()
    full_name: str | None = None
    private_orgs: bool = False  # its orgs make new repos private by default (Enterprise)


def suite_accounts(suite: Path) -> list[Account]:
    """The accounts the suite logs in with, read from its testing_constants."""
    constants = runpy.run_path(str(suite / "testing_constants.py"))
    return [
        Account(constants["USER"], constants["TOKEN"], (SUITE_ORG[0],), constants["FULL_NAME"]),
        Account(constants["OTHER_USER"], constants["OTHER_TOKEN"]),
        Account(constants["ENTERPRISE_USER"], constants["ENTERPRISE_TOKEN"], (constants["ENTERPRISE_ORG"],), private_orgs=True),
    ]


def seed_accounts(root: Path, accounts: list[Account]) -> None:
    """Users, orgs, literal tokens, full names and private-by-default orgs through `hubtools hub token`,
    `full-name` and `default-visibility`."""
    for account in accounts:
        _hub_command(root, "token", "--user", account.user, "--value", account.token,
                     *(arg for org in account.orgs for arg in ("--org", org)))
        if account.full_name:
            _hub_command(root, "full-name", "--name", account.user, "--full-name", account.full_name)
        for org in account.orgs if account.private_orgs else ():
            _hub_command(root, "default-visibility", "--name", org, "--private")
    _hub_command(root, "full-name", "--name", SUITE_ORG[0], "--full-name", SUITE_ORG[1])


def _hub_command(root: Path, command: str, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "hubtools.cli", "hub", command, "--root", str(root), *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise PeerSetupError(f"`hubtools hub {command}` failed: {result.stderr.strip()[-1000:]}")


@contextmanager
def silent_listener() -> Iterator[str]:
    """An https URL on loopback whose TLS handshake never completes: the offline mock's requests time out here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(64)
        yield f"https://{LOOPBACK}:{sock.getsockname()[1]}"


def run_peer_suite(work: Path, modules: tuple[str, ...] = MODULES, extra_args: tuple[str, ...] = ()) -> dict[str, Outcome]:
    """Run the selected modules against a fresh embedded Hub under `work`; returns node id -> outcome."""
    tests = fetch_tests(installed_version())
    hub = BackgroundHub(work / "hub", LOOPBACK, free_port())
    with silent_listener() as offline_host:
        suite = prepare_suite(tests, work, hub.endpoint, offline_host)
        seed_accounts(hub.root, suite_accounts(suite))
        selection = work / "selection.json"
        selection.write_text(json.dumps([asdict(rule) for rule in DESELECTED]))
        report = work / "report.json"
        with hub:
            command = [sys.executable, "-m", "pytest", "-q", "-c", str(work / "pytest.ini"), "--rootdir", str(work),
                       "-o", "timeout=300", *(f"tests/{module}" for module in modules), *extra_args]
            with (work / "pytest.log").open("w") as log:
                status = subprocess.run(command, cwd=work, env=_suite_environment(work, hub.endpoint, selection, report),
                                        stdout=log, stderr=subprocess.STDOUT).returncode
    if status not in (0, 1) or not report.is_file():  # 1: some tests failed; anything else: the run itself broke
        raise PeerSetupError(f"the suite's pytest exited with status {status}: see {work / 'pytest.log'}")
    return {nodeid: Outcome(**entry) for nodeid, entry in json.loads(report.read_text()).items()}


def _suite_environment(work: Path, endpoint: str, selection: Path, report: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HUGGINGFACE_CO_STAGING="0",  # staging mode would point the client at hub-ci.huggingface.co
        HF_HOME=str(work / "hf-home"),
        HF_XET_CACHE=str(work / "xet-cache"),  # a fresh hf_xet shard cache: no xorb from an earlier Hub
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        DISABLE_SYMLINKS_IN_WINDOWS_TESTS="1",
        PEER_SELECTION=str(selection),
        PEER_REPORT=str(report),
    )
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    return env


def module_table(outcomes: dict[str, Outcome]) -> str:
    """Markdown table: per module, the tests that sent requests to the Hub by outcome, and the others apart."""
    rows: dict[str, Counter] = {}
    for nodeid, outcome in outcomes.items():
        module = nodeid.split("::")[0].removeprefix("tests/")
        kind = ("failed" if outcome.outcome == "error" else outcome.outcome) if outcome.hub else f"offline {outcome.outcome}"
        rows.setdefault(module, Counter())[kind] += 1
    total = sum(rows.values(), Counter())
    lines = ["| module | Hub tests passed | failed | skipped | offline tests (passed/other) |", "| --- | --- | --- | --- | --- |"]
    for module, counts in [*sorted(rows.items()), ("**total**", total)]:
        offline_other = sum(v for k, v in counts.items() if k.startswith("offline") and k != "offline passed")
        lines.append(f"| {module} | {counts['passed']} | {counts['failed']} | {counts['skipped']} |"
                     f" {counts['offline passed']}/{offline_other} |")
    return "\n".join(lines)


def failures(outcomes: dict[str, Outcome]) -> dict[str, str]:
    return {nodeid: o.message for nodeid, o in outcomes.items() if o.outcome in ("failed", "error")}


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="hubtools-peer-"))
    try:
        outcomes = run_peer_suite(work, extra_args=tuple(sys.argv[1:]))
    except PeerUnavailable as error:
        print(f"peer run skipped: {error}", file=sys.stderr)
        return 0
    print(module_table(outcomes))
    for nodeid, message in sorted(failures(outcomes).items()):
        print(f"FAILED {nodeid}: {message.splitlines()[0] if message else ''}")
    print(f"(work folder: {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
