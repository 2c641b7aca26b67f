"""What the peer run selects from huggingface_hub's tests, what it leaves out and why, and which failures are known.

Every deselection and every expected failure carries its reason. `OUT_OF_SCOPE` failures are features a local
Hub does not offer: they must fail with the embedded Hub's 501 naming the feature. `GAPS` are protocol gaps
still open (issue 15): each is a bug to fix, and its entry goes away with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

# The test modules that exercise the Hub's HTTP API (the others test the client alone, or services a Hub repo
# server does not host: inference, jobs, buckets, webhooks, OAuth, sandboxes, kernels).
MODULES = (
    "test_hf_api.py",
    "test_file_download.py",
    "test_snapshot_download.py",
    "test_hf_file_system.py",
    "test_repocard.py",
    "test_hub_mixin.py",
    "test_hub_mixin_pytorch.py",
    "test_cli_discussions.py",
    "test_commit_scheduler.py",
    "test_cache_layout.py",
    "test_upload_pipeline.py",
    "test_xet_upload.py",
)


@dataclass(frozen=True)
class Deselect:
    by: str  # "marker", "keyword" (a substring of the test's node id) or "source" (a substring of its code)
    value: str
    reason: str


DESELECTED = (
    Deselect("marker", "production", "runs against huggingface.co itself (no network here, and not this Hub's job)"),
    Deselect("marker", "inference", "Inference Providers are a separate service"),
    Deselect("keyword", "Inference", "Inference Endpoints / catalog / providers: separate services"),
    Deselect("keyword", "Jobs", "Jobs run containers on HF infrastructure"),
    Deselect("keyword", "Bucket", "Storage buckets are a separate product"),
    Deselect("keyword", "bucket", "Storage buckets are a separate product"),
    Deselect("keyword", "Webhook", "webhooks call out to external URLs"),
    Deselect("keyword", "OAuth", "OAuth apps are not part of a repo server"),
    Deselect("keyword", "Paper", "papers pages come from arXiv via huggingface.co"),
    Deselect("keyword", "SpaceAPI", "Space hardware, sleep time and runtime control need HF infrastructure (mocked or production)"),
    Deselect("source", "SAMPLE_CARDS_DIR", "reads tests/fixtures/cards, which the sdist does not ship (no Hub call)"),
)


@dataclass(frozen=True)
class Known:
    reason: str
    feature: str | None = None  # out of scope: the 501 must name this feature


API = "tests/test_hf_api.py::"
DOWNLOAD = "tests/test_file_download.py::"
GATED = Known("gated repos and access requests are not offered by a local Hub", feature="gated")
COLLECTIONS = Known("collections are not offered by a local Hub", feature="collections")

# node id -> why it fails. Out-of-scope features fail with a clear 501 naming the feature.
OUT_OF_SCOPE: dict[str, Known] = {
    **{API + f"TestCollectionAPI::{name}": COLLECTIONS for name in (
        "test_collection_items", "test_create_collection_with_description", "test_create_private_collection",
        "test_delete_collection", "test_update_collection")},
    API + "TestAccessRequestAPI::test_access_request_error": GATED,
    API + "TestAccessRequestAPI::test_access_requests_normal_usage": GATED,
    API + "TestHfApiAuthCheck::test_auth_check_gated_repo": GATED,
    API + "TestHfApiEndpoints::test_update_repo_settings": GATED,
    API + "TestHfApiEndpoints::test_update_dataset_repo_settings": GATED,
    DOWNLOAD + "TestStagingDownload::test_download_from_a_gated_repo_with_hf_hub_download": GATED,
    API + "TestActivityApi::test_list_likes_repos_auth_and_explicit_user": Known("likes are not kept", feature="likes"),
    API + "TestActivityApi::test_list_likes_repos_auth_and_implicit_user": Known("likes are not kept", feature="likes"),
}

# node id -> the open protocol gap (issue 15) it fails on; each entry goes away with its fix.
GAPS: dict[str, Known] = {
}
