"""Publishing reads each file's bytes once in hubtools (secret scan + hashes); huggingface_hub hashes lazily (its
first 512 bytes) and hf_xet reads each changed large file once more to chunk it: no third read.

Measured with the kernel's per-process read counter (`rchar` in /proc/self/io), which counts every byte read
by any thread of this process: hubtools, huggingface_hub and hf_xet. The Hub server is another process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hubtools.publish import PublishOptions, plan_publish
from publishing_support import copy_of_trained_run, publish_run

ORG = "reads"

pytestmark = pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="needs Linux /proc/self/io")


def bytes_read() -> int:
    return int(next(line for line in Path("/proc/self/io").read_text().splitlines() if line.startswith("rchar:")).split()[1])


def test_publish_reads_each_file_once_and_xet_once_more(hub, tmp_path_factory, tmp_path):
    from hubtools.hubclient import hub_api

    token = hub.token("reader", [ORG])
    run = copy_of_trained_run(tmp_path_factory, "reads")
    weights = run.model / "model.safetensors"
    publish_run(run, f"{ORG}/model", token, space_repo_id=None)
    content = bytearray(weights.read_bytes())
    content[len(content) // 2] ^= 0xFF  # one changed byte: same size, new sha256
    weights.write_bytes(bytes(content))
    size = len(content)

    before = bytes_read()
    (plan,) = plan_publish(PublishOptions(repo_id=f"{ORG}/model", run_dir=run.root, token=token), hub_api(hub.endpoint, token), tmp_path)
    planning = bytes_read() - before
    tree_bytes = sum(local.stat().st_size for local in plan.files.values())
    assert [change.path for change in plan.pending()] == ["model.safetensors"]
    assert tree_bytes <= planning < tree_bytes + 4 * 1024 * 1024  # the scan's read, plus small reads (card, config)

    before = bytes_read()
    (commit,) = publish_run(run, f"{ORG}/model", token, space_repo_id=None).commits
    publishing = bytes_read() - before
    assert commit.commit_id is not None
    # the scan reads the tree once, hf_xet reads the changed weights once to chunk them; no hash re-reads them
    assert publishing < tree_bytes + size + 8 * 1024 * 1024, f"{publishing / size:.2f}x the weights read"
