"""hubtools' own card passes hubtools' own audit (issue 27): the quickstart-shaped tiny run, published with its
dataset, audited by someone who is not a member of the org, exits 0 with every claim checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub_support import ORG, unique
from publishing_support import copy_of_trained_run, publish_run


@pytest.fixture(scope="module")
def own_card(hub, tmp_path_factory) -> str:
    run = copy_of_trained_run(tmp_path_factory, "own-card")
    repo_id = unique("own-card")
    publish_run(run, repo_id, hub.token("alice", [ORG]), dataset_repo_id=repo_id + "-data")
    return repo_id


def test_a_published_hubtools_card_passes_audit_with_exit_0(hub, own_card, tmp_path: Path) -> None:
    from hubtools.cli import app

    result = CliRunner().invoke(app, ["audit", own_card, "--out", str(tmp_path), "--token", hub.token("dave")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["verdict"] == "no problems" and report["problems"] == [] and report["unverified"] == []
    assert len(report["claims"]) >= 5 and all(claim["status"] == "reproduced" for claim in report["claims"])


def test_a_published_hubtools_card_has_every_template_section(hub, own_card, tmp_path: Path) -> None:
    from hubtools.audit import AuditOptions, audit_repo

    audit = audit_repo(AuditOptions(own_card, tmp_path))
    assert audit.missing_sections == [] and audit.placeholders == []
