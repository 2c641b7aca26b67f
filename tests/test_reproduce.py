"""`hubtools reproduce` and `hubtools audit` against the embedded Hub, with tiny real runs.

- a published card hand-edited on the Hub to claim a wrong accuracy: `audit` flags exactly that claim and
  `reproduce --evaluate-only` exits 6 on exactly that claim (every other number of the card reproduces);
- a model trained from a Hub base model is retrained by `reproduce` from what `publish` stored;
- a third-party repo (plain `push_to_hub`, a hand-written card): `audit` flags its wrong claim and opens a
  pull request from an account that is not a member of the repo's organisation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub_support import ORG, unique
from publishing_support import copy_of_trained_run, publish_run
from trained_run import base_model_path


@pytest.fixture(scope="module")
def token(hub) -> str:
    return hub.token("alice", [ORG])


def hand_edit_model_index(api, repo_id: str, metric: str, value: float) -> None:
    """What a person editing README.md on the Hub does: change one model-index value."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(api.hf_hub_download(repo_id, "README.md"))
    (result,) = [result for result in card.data.eval_results if result.metric_type == metric and not result.metric_args]
    result.metric_value = value
    api.upload_file(path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id=repo_id, commit_message="Edit the card")


def far_from(value: float) -> float:
    """A claim no bootstrap interval of `value` on a few dozen rows reaches."""
    return 0.0 if value >= 0.5 else 1.0


@pytest.fixture(scope="module")
def wrong_claim(hub, token, tmp_path_factory) -> tuple[str, float]:
    """A tiny run published with its dataset, then its model-index accuracy hand-edited on the Hub."""
    run = copy_of_trained_run(tmp_path_factory, "wrong-claim")
    repo_id = unique("wrong-claim")
    publish_run(run, repo_id, token, dataset_repo_id=repo_id + "-data")
    accuracy = json.loads(run.metrics.read_text())["test"]["accuracy"]
    hand_edit_model_index(hub.api(token), repo_id, "accuracy", far_from(accuracy))
    return repo_id, accuracy


def test_publish_stores_what_reproducing_needs(hub, token, wrong_claim, tmp_path: Path) -> None:
    repo_id, _ = wrong_claim
    provenance = json.loads(Path(hub.api(token).hf_hub_download(repo_id, "reproduce.json")).read_text())
    assert provenance["seeds"]["training"] == 42 and provenance["libraries"]["transformers"]
    assert provenance["command"] and provenance["dataset"]["repo_id"] == repo_id + "-data"
    # the tiny run trains from a local folder: named, so reproduce can say why it cannot retrain
    assert provenance["base_model"] == {"id": None, "local_folder": "model", "revision": None}


def test_audit_flags_exactly_the_hand_edited_claim(hub, token, wrong_claim, tmp_path: Path) -> None:
    from hubtools.audit import AuditOptions, audit_repo

    repo_id, accuracy = wrong_claim
    audit = audit_repo(AuditOptions(repo_id, tmp_path, token=token))
    assert [(check.claim.where, check.claim.metric) for check in audit.flagged] == [("model-index", "accuracy")]
    assert len(audit.checks) >= 5 and not audit.unverified
    (flagged,) = audit.flagged
    assert flagged.claim.claimed == far_from(accuracy) and flagged.value == pytest.approx(accuracy, abs=1e-4)
    assert audit.problems == [f"accuracy on {repo_id}-data[test]: {flagged.reason}"]
    assert not audit.metadata_problems and not audit.label_problems
    assert audit.widgets and all("label" in row for row in audit.widgets)
    assert audit.missing_sections == []  # hubtools' card has every section of huggingface_hub's template
    written = json.loads((tmp_path / "audit.json").read_text())
    assert written["problems"] == audit.problems and "## Audit" not in (tmp_path / "audit.md").read_text()


def test_reproduce_evaluate_only_fails_on_exactly_that_claim(hub, token, wrong_claim, tmp_path: Path) -> None:
    from hubtools.cli import app

    repo_id, _ = wrong_claim
    result = CliRunner().invoke(app, ["reproduce", repo_id, "--evaluate-only", "--out", str(tmp_path), "--token", token])
    assert result.exit_code == 6, result.output
    assert "claims not reproduced" in result.output and "model-index accuracy" in result.output
    report = json.loads((tmp_path / "reproduction.json").read_text())
    failed = [(claim["where"], claim["metric"]) for claim in report["claims"] if claim["status"] != "reproduced"]
    assert failed == [("model-index", "accuracy")]
    wheres = {claim["where"] for claim in report["claims"]}
    assert {"model-index", "results table", "per-class table", "baseline table"} <= wheres
    assert report["verdict"] == "not reproduced" and token not in (tmp_path / "reproduction.md").read_text()


def test_reproduce_names_what_the_repo_lacks_instead_of_guessing(hub, token, wrong_claim, tmp_path: Path) -> None:
    from hubtools.reproduce import ReproduceOptions, reproduce

    repo_id, _ = wrong_claim
    result = reproduce(ReproduceOptions(repo_id, tmp_path, token=token))
    assert result.verdict == "cannot reproduce" and not result.checks
    assert result.missing == ["the base model was a local folder (`model`), not a Hub repo: it cannot be downloaded"]
    hub.api(token).update_repo_settings(repo_id + "-data", private=True, repo_type="dataset")
    stranger = hub.token("stranger")
    result = reproduce(ReproduceOptions(repo_id, tmp_path / "stranger", evaluate_only=True, token=stranger))
    assert result.missing == [f"dataset {repo_id}-data is private or gone on {hub.endpoint}: this token cannot read it"]
    hub.api(token).update_repo_settings(repo_id + "-data", private=False, repo_type="dataset")


def test_reproduce_retrains_a_model_published_from_a_hub_base_model(seeded_hub, token, tmp_path_factory) -> None:
    """The quickstart's shape at test size: base model from the Hub, published with its dataset; retrained on CPU."""
    from hubtools.config import load_config
    from hubtools.fit import run_training
    from hubtools.evaluation import evaluate_run
    from hubtools.reproduce import ReproduceOptions, reproduce

    root = tmp_path_factory.mktemp("retrain")
    config = load_config(
        Path(__file__).parents[1] / "configs" / "quickstart.yaml",
        [f"data.path={root / 'comments.csv'}", "data.sample_size=150", "training.num_train_epochs=2", "training.max_length=32"],
    )
    run = run_training(config, root / "run")
    evaluate_run(run.root, slice_by=config.data.extra_columns)
    repo_id = unique("retrain")
    publish_run(run, repo_id, token, dataset_repo_id=repo_id + "-data")
    result = reproduce(ReproduceOptions(repo_id, root / "reproduction", token=token))
    assert result.missing == [] and result.verdict == "reproduced", result.summary()
    assert len(result.checks) >= 20 and result.rows == json.loads(run.metrics.read_text())["test"]["rows"]
    # CPU training with the same seed, data order and base model commit is deterministic: every number is equal
    assert result.exact, [check.as_dict() for check in result.checks if abs(check.difference) > 5e-5]
    assert "every number exactly equal" in result.summary()


@pytest.fixture(scope="module")
def third_party(hub, tmp_path_factory) -> tuple[str, float]:
    """A model pushed with plain transformers `push_to_hub`, its test split uploaded as a Parquet file, and a
    hand-written card whose model-index claims the real accuracy and a wrong F1."""
    import pandas as pd
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    run = copy_of_trained_run(tmp_path_factory, "third-party")
    owner = hub.token("carol", ["thirdparty"])
    repo_id, dataset_id = "thirdparty/comments-classifier", "thirdparty/comments"
    AutoModelForSequenceClassification.from_pretrained(run.model).push_to_hub(repo_id, token=owner)
    AutoTokenizer.from_pretrained(run.model).push_to_hub(repo_id, token=owner)
    api = hub.api(owner)
    api.create_repo(dataset_id, repo_type="dataset")
    test = pd.read_parquet(run.split("test"), columns=["text", "label"])
    api.upload_file(path_or_fileobj=test.to_parquet(index=False), path_in_repo="data/test-00000-of-00001.parquet", repo_id=dataset_id, repo_type="dataset")
    accuracy = json.loads(run.metrics.read_text())["test"]["accuracy"]
    f1_macro = json.loads(run.metrics.read_text())["test"]["f1_macro"]
    card = f"""---
license: mit
language: en
pipeline_tag: text-classification
widget:
- text: I love this new phone
model-index:
- name: comments-classifier
  results:
  - task:
      type: text-classification
    dataset:
      name: comments
      type: {dataset_id}
      split: test
    metrics:
    - type: accuracy
      value: {accuracy:.4f}
    - type: f1
      value: {far_from(f1_macro)}
      args:
        average: macro
---
# comments-classifier

Fine-tuned MiniLM on comments. Accuracy {accuracy:.2f}.
"""
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo_id, commit_message="Card")
    return repo_id, f1_macro


def test_audit_flags_the_wrong_claim_of_a_third_party_card(hub, third_party, tmp_path: Path) -> None:
    from hubtools.audit import AuditOptions, audit_repo

    repo_id, f1_macro = third_party
    audit = audit_repo(AuditOptions(repo_id, tmp_path))
    assert [(check.claim.metric, check.status) for check in audit.checks] == [("accuracy", "reproduced"), ("f1_macro", "not reproduced")]
    assert audit.checks[1].value == pytest.approx(f1_macro, abs=0.05)  # pipeline() truncates at 512 tokens, training at 32
    assert audit.metadata_warnings == ["metadata `library_name` is missing", "metadata `datasets` is missing", "metadata `base_model` is missing"]
    assert audit.widgets[0]["label"] in json.loads(Path(hub.api().hf_hub_download(repo_id, "config.json")).read_text())["id2label"].values()


def test_audit_pr_from_a_non_member_proposes_the_corrected_model_index(hub, third_party, tmp_path: Path) -> None:
    from huggingface_hub import ModelCard

    from hubtools.audit import AuditOptions, audit_repo

    repo_id, _ = third_party
    outsider = hub.token("dave")  # a member of no organisation
    main_before = hub.api().model_info(repo_id).sha
    audit = audit_repo(AuditOptions(repo_id, tmp_path, pr=True, token=outsider))
    assert audit.pr_url and audit.pr_url.startswith(f"{hub.endpoint}/{repo_id}/discussions/")
    api = hub.api(outsider)
    details = api.get_discussion_details(repo_id, int(audit.pr_url.rsplit("/", 1)[1]))
    assert details.is_pull_request and details.author == "dave" and details.status == "open"
    proposed = ModelCard.load(api.hf_hub_download(repo_id, "README.md", revision=details.git_reference))
    values = {result.metric_type: result.metric_value for result in proposed.data.eval_results}
    assert values["f1"] == round(audit.checks[1].value, 4) and "## Audit" in proposed.text
    assert hub.api().model_info(repo_id).sha == main_before  # main is untouched


def test_a_retrained_claim_needs_both_intervals_and_an_evaluation_only_claim_the_same_number() -> None:
    from hubtools.claims import Claim, Scores, check_claim

    scores = Scores({"accuracy": 0.80}, {"accuracy": (0.70, 0.90)}, rows=60)
    inside = Claim("results table", "accuracy", 0.82, low=0.75, high=0.88)
    assert check_claim(inside, scores, exact=False).status == "reproduced"
    assert check_claim(inside, scores, exact=True).status == "not reproduced"  # same weights must give 0.82 exactly
    narrow = Claim("results table", "accuracy", 0.82, low=0.81, high=0.86)  # the new 0.80 is outside the card's interval
    assert "outside the card's 95% interval" in check_claim(narrow, scores, exact=False).reason
    far = Claim("model-index", "accuracy", 0.95)
    assert "outside the new 95% interval" in check_claim(far, scores, exact=False).reason
    assert check_claim(Claim("model-index", "bleu", 0.3), scores, exact=False).status == "not checked"
