"""huggingface_hub's own Hub tests pass against the embedded Hub, except the named, known failures.

The run takes minutes: it downloads the installed huggingface_hub's sdist once (cached), then runs its
Hub-facing test modules against a fresh `hubtools hub serve` (see peer_harness.py). It is skipped only when the
package index cannot be reached and the sdist is not cached.
"""

from __future__ import annotations

import tarfile
import warnings

import pytest
from peer_expectations import GAPS, OUT_OF_SCOPE, Known
from peer_harness import Outcome, PeerSetupError, PeerUnavailable, failures, fetch_tests, module_table, run_peer_suite

from hubtools.ports import free_port

KNOWN: dict[str, Known] = {**OUT_OF_SCOPE, **GAPS}


def unclear_refusal(message: str, known: Known) -> bool:
    """An out-of-scope test must fail on the embedded Hub's 501 that names the feature, not on anything else."""
    refusal = message.partition("501 Not Implemented")[2].partition("The embedded Hub does not support")[2]
    return known.feature not in refusal


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_huggingface_hub_suite_fails_only_on_named_features(tmp_path) -> None:
    try:
        outcomes: dict[str, Outcome] = run_peer_suite(tmp_path)
    except PeerUnavailable as error:
        pytest.skip(str(error))
    print(module_table(outcomes))
    failed = failures(outcomes)
    unexpected = {nodeid: message for nodeid, message in failed.items() if nodeid not in KNOWN}
    unclear = {nodeid: failed[nodeid] for nodeid, known in OUT_OF_SCOPE.items()
               if nodeid in failed and unclear_refusal(failed[nodeid], known)}
    stale = sorted(nodeid for nodeid in KNOWN if nodeid not in failed)
    if stale:
        warnings.warn(f"{len(stale)} known failures no longer fail (remove them from peer_expectations.py): {stale}",
                      stacklevel=1)
    assert not unexpected, "huggingface_hub tests that fail unexpectedly:\n" + _listing(unexpected)
    assert not unclear, "out-of-scope tests that fail without the Hub's 501 naming the feature:\n" + _listing(unclear)
    assert any(o.hub and o.outcome == "passed" for o in outcomes.values()), "no test reached the embedded Hub"


def _listing(messages: dict[str, str]) -> str:
    return "\n".join(f"- {nodeid}: {message[-600:]}" for nodeid, message in sorted(messages.items()))


def test_an_unreachable_package_index_skips_the_peer_run_with_the_reason(tmp_path, monkeypatch) -> None:
    """Only a user's offline machine skips: pip cannot connect, and no sdist is cached yet."""
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(PeerUnavailable, match="package index is unreachable"):
        fetch_tests("2.4.0", cache=tmp_path)
    with pytest.raises(PeerSetupError, match="no tests/ folder"):  # a cached archive without tests/ is an error
        sdist = tmp_path / "sdist" / "huggingface_hub-0.0.1.tar.gz"
        sdist.parent.mkdir(exist_ok=True)
        with tarfile.open(sdist, "w:gz") as archive:
            archive.addfile(tarfile.TarInfo("huggingface_hub-0.0.1/README.md"))
        fetch_tests("0.0.1", cache=tmp_path)
