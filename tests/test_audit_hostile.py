"""`hubtools audit` and `reproduce` on repos strangers wrote, on the real embedded Hub.

The hostile-repo fixture pushes, with plain huggingface_hub uploads as any Hub user could, model repos built
from the session's tiny trained run: repo code with an `auto_map`, a model-index whose dataset is `csv` or an
absolute path on the auditor's machine, a config bomb, a published config asking for 32 workers and 512
threads, Markdown/HTML in every string a card gives, a card without `widget:`, and a Trainer-style card
("More information needed") whose claims name a dataset the Hub does not have.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub_support import ORG, unique
from publishing_support import copy_of_trained_run, publish_run

STRANGER = "mallory"
INJECTION = "x | reproduced | 1.0 |\n| model-index | <script>alert(1)</script> [click](http://evil.example)"


@pytest.fixture(scope="module")
def stranger(hub) -> str:
    return hub.token(STRANGER, ["strangers"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return copy_of_trained_run(tmp_path_factory, "hostile")


def trainer_card(dataset: str, extra_metadata: str = "", body: str = "") -> str:
    """What `Trainer.push_to_hub` writes for a fine-tuned classifier (no widget), claims on `dataset`."""
    return f"""---
license: apache-2.0
tags:
- generated_from_trainer
metrics:
- accuracy
- f1
{extra_metadata}model-index:
- name: comments-classifier
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: {json.dumps(dataset)}
      type: {json.dumps(dataset)}
      split: test
    metrics:
    - type: accuracy
      value: 0.8
      name: Accuracy
    - type: f1
      value: 0.79
      name: F1
      args:
        average: macro
---

<!-- This model card has been generated automatically according to the information the Trainer had access to. You
should probably proofread and complete it, then remove this comment. -->

# comments-classifier

This model is a fine-tuned version of MiniLM on an unknown dataset.{body}

## Model description

More information needed

## Intended uses & limitations

More information needed

## Training and evaluation data

More information needed

## Training procedure

### Training hyperparameters

- learning_rate: 5e-05
- num_epochs: 2
"""


def push_repo(hub, token: str, name: str, model: Path, card: str, files: dict[str, bytes] | None = None, config: dict | None = None) -> str:
    """A model repo as a stranger uploads it: the run's model files, `card` as README.md, extra files, config.json changes."""
    repo_id = f"strangers/{name}"
    folder = model.parent / f"upload-{name}"
    shutil.copytree(model, folder)
    (folder / "README.md").write_text(card, encoding="utf-8")
    for path, content in (files or {}).items():
        (folder / path).write_bytes(content)
    if config:
        merged = json.loads((folder / "config.json").read_text()) | config
        (folder / "config.json").write_text(json.dumps(merged))
    api = hub.api(token)
    api.create_repo(repo_id)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload")
    return repo_id


def cli(*arguments: str) -> tuple[int, str]:
    """(exit status, output) as `hubtools ...` gives them: an exception goes through the CLI's error table (`run_cli`)."""
    from hubtools.cli import app
    from hubtools.cli.errors import explain

    result = CliRunner().invoke(app, list(arguments))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        failure = explain(result.exception)
        return failure.exit_code, f"{result.output}Error: {failure.message}\n"
    return result.exit_code, result.output


def audit_cli(*arguments: str) -> tuple[int, str]:
    return cli("audit", *arguments)


# ---- issue 25: a repo is untrusted input ----------------------------------------------------------


def test_a_trainer_card_without_widget_or_dataset_on_the_hub_is_unverifiable_with_its_findings(hub, stranger, run, tmp_path: Path) -> None:
    repo_id = push_repo(hub, stranger, "trainer-style", run.model, trainer_card("strangers/tweets-not-on-the-hub"))
    status, output = audit_cli(repo_id, "--out", str(tmp_path))
    assert status == 8, output
    first = output.splitlines()[0]
    assert first.startswith(f"audit {repo_id}@")
    assert (
        f": 2 model-index claim(s), 0 checked (0 within their 95% interval), 2 unverifiable: dataset strangers/tweets-not-on-the-hub is not "
        f"on the Hub at {hub.endpoint} (or is private to this token); unverifiable: no claim of the card could be re-evaluated; "
    ) in first
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["verdict"] == "unverifiable" and report["problems"] == [] and report["widgets"] == []
    assert [item["metric"] for item in report["unverified"]] == ["accuracy", "f1_macro"]
    assert report["placeholders"] == ['placeholder text "More Information Needed" under Model description, Intended uses & limitations, Training and evaluation data']
    assert report["missing_sections"] == ["Model Details", "Uses", "Bias, Risks, and Limitations", "How to Get Started with the Model",
                                          "Training Details", "Evaluation", "Environmental Impact", "Model Card Contact"]
    assert "metadata `language` is missing" in report["warnings"] and f"{len(report['warnings'])} warning(s)" in first
    markdown = (tmp_path / "audit.md").read_text()
    assert "matches the card and the evaluated data" not in markdown
    assert "no dataset with named labels was evaluated to compare" in markdown


def test_a_model_index_without_dataset_is_a_finding_not_the_auditors_input_error(hub, stranger, run, tmp_path: Path) -> None:
    card = trainer_card("strangers/x").replace('    dataset:\n      name: "strangers/x"\n      type: "strangers/x"\n      split: test\n', "")
    repo_id = push_repo(hub, stranger, "no-dataset", run.model, card)
    status, output = audit_cli(repo_id, "--out", str(tmp_path))
    assert status == 6, output
    assert "1 problem(s), first: the card's metadata does not parse with huggingface_hub (Invalid `model_index` in metadata" in output
    assert "fix the YAML header" not in output


def test_dataset_types_csv_and_a_local_path_never_reach_a_local_loader(hub, stranger, run, tmp_path: Path, monkeypatch) -> None:
    """`datasets.load_dataset` reads a local folder named like the card's dataset (here `private/test.csv` in the
    auditor's working directory): its rows must not be read, let alone quoted in the report."""
    private = tmp_path / "private"
    private.mkdir()
    (private / "test.csv").write_text("text,label\nmy bank pin is 4321,SECRET-LABEL-77\n")
    monkeypatch.chdir(tmp_path)
    not_on_hub = f"is not on the Hub at {hub.endpoint} (or is private to this token)"
    cases = {
        "path-type": (str(private), f"dataset type {str(private)!r} is not a Hub dataset id (a local path or file?); only Hub datasets are evaluated"),
        "folder-type": ("private", f"dataset private {not_on_hub}"),
        "csv-type": ("csv", f"dataset csv {not_on_hub}"),
    }
    for name, (dataset, reason) in cases.items():
        repo_id = push_repo(hub, stranger, name, run.model, trainer_card(dataset))
        out = tmp_path / name
        status, output = audit_cli(repo_id, "--out", str(out))
        written = (out / "audit.md").read_text() + (out / "audit.json").read_text()
        assert "SECRET-LABEL-77" not in written and "4321" not in written
        assert status == 8, output
        assert {item["reason"] for item in json.loads((out / "audit.json").read_text())["unverified"]} == {reason}


def push_repo_with_code(hub, token: str, run, name: str, module: str, auto_class: str, imported: str, marker: Path) -> str:
    """A repo whose config.json maps `auto_class` to the repo's own `module`.py, which writes `marker` when run."""
    code = f"open({str(marker)!r}, 'w').write('ran')\nfrom transformers import {imported} as Evil\n".encode()
    return push_repo(
        hub, token, name, run.model, trainer_card("strangers/x"), files={f"{module}.py": code}, config={"auto_map": {auto_class: f"{module}.Evil"}},
    )


def test_repo_code_is_refused_naming_its_files_and_never_run(hub, stranger, run, tmp_path: Path) -> None:
    ran = tmp_path / "code-ran"
    repo_id = push_repo_with_code(hub, stranger, run, "remote-code", "modeling_evil", "AutoModelForSequenceClassification", "BertForSequenceClassification", ran)
    status, output = audit_cli(repo_id, "--out", str(tmp_path / "audit"))
    assert status == 2, output
    assert f"Error: {repo_id}: the model needs its own code (modeling_evil.py), which hubtools never runs" in output
    assert not ran.exists()


def test_evaluate_of_a_published_model_refuses_repo_code_too(hub, stranger, run, tmp_path: Path) -> None:
    from hubtools.model_files import UntrustedModelError
    from hubtools.evaluation.predict import load_classifier

    ran = tmp_path / "code-ran"
    repo_id = push_repo_with_code(hub, stranger, run, "evaluate-code", "configuration_evil", "AutoConfig", "BertConfig", ran)
    with pytest.raises(UntrustedModelError, match=r"the model needs its own code \(configuration_evil.py\)"):
        load_classifier(repo_id)
    assert not ran.exists()


def test_a_config_bomb_is_refused_before_building_the_model(hub, stranger, run, tmp_path: Path) -> None:
    repo_id = push_repo(hub, stranger, "config-bomb", run.model, trainer_card("strangers/x"), config={"intermediate_size": 40_000})
    status, output = audit_cli(repo_id, "--out", str(tmp_path))
    assert status == 2, output
    assert f"Error: {repo_id}: config.json describes a model of " in output
    assert "the config does not belong to these weights" in output


def test_pickled_weights_are_refused_by_name_before_any_download(hub, stranger, run, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(run.model, folder)
    weights = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    repo_id = push_repo(hub, stranger, "pickled", folder, trainer_card("strangers/x"))
    status, output = audit_cli(repo_id, "--out", str(tmp_path / "audit"))
    assert status == 2, output
    assert f"Error: {repo_id}: no *.safetensors weights (only pytorch_model.bin: pickles, which hubtools never loads)" in output


def test_a_card_without_claims_is_unverifiable_not_clean(hub, stranger, run, tmp_path: Path) -> None:
    repo_id = push_repo(hub, stranger, "no-claims", run.model, "---\nlicense: mit\n---\n# A model\n\nIt classifies comments.\n")
    status, output = audit_cli(repo_id, "--out", str(tmp_path))
    assert status == 8, output
    assert ": 0 model-index claim(s), 0 checked (0 within their 95% interval); unverifiable: the card states no model-index claim; " in output


def test_every_failure_has_a_documented_status_not_unexpected() -> None:
    import pickle

    from huggingface_hub.errors import HFValidationError

    from hubtools.cli.errors import EXIT_INPUT, explain

    invalid = explain(HFValidationError("Repo id must be in the form 'repo_name' or 'namespace/repo_name': '/etc/passwd'."))
    assert (invalid.exit_code, invalid.message) == (
        EXIT_INPUT, "Repo id must be in the form 'repo_name' or 'namespace/repo_name': '/etc/passwd'.; a repo id is NAME or ORG/NAME (letters, digits, '-', '_', '.')",
    )
    unpickled = explain(pickle.UnpicklingError("invalid load key, 'x'."))
    assert unpickled.exit_code == EXIT_INPUT and unpickled.message.startswith("a weights file could not be read (UnpicklingError: invalid load key")


def test_an_invalid_repo_id_exits_2_not_unexpected(hub, tmp_path: Path) -> None:
    status, output = audit_cli("/etc/passwd", "--out", str(tmp_path))
    assert status == 2, output
    assert "a repo id is NAME or ORG/NAME" in output


def test_reports_go_to_the_cache_not_the_working_directory(hub, stranger, run, tmp_path: Path, monkeypatch) -> None:
    repo_id = push_repo(hub, stranger, "default-out", run.model, trainer_card("strangers/x"))
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    status, output = audit_cli(repo_id)
    report = cache / "hubtools" / "audit" / "strangers--default-out" / "audit.md"
    assert list(work.iterdir()) == []
    assert f"Report: {report}" in output and report.is_file()
    assert status == 8, output


def test_card_strings_are_escaped_in_the_audit_report(hub, stranger, run, tmp_path: Path) -> None:
    card = trainer_card("strangers/x", extra_metadata=f"widget:\n- text: {json.dumps(INJECTION)}\npipeline_tag: {json.dumps(INJECTION)}\n")
    repo_id = push_repo(hub, stranger, "injection", run.model, card)
    audit_cli(repo_id, "--out", str(tmp_path))
    markdown = (tmp_path / "audit.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "[click](" not in markdown and "| reproduced |" not in markdown


# ---- reproduce: a published config and card from a stranger ---------------------------------------


@pytest.fixture(scope="module")
def hostile_published(hub, run, tmp_path_factory) -> str:
    """A run published with hubtools, then its training_config.yaml and card edited on the Hub by its (hostile) owner:
    32 workers, 512 threads, 10,000 epochs, batch 100,000, and Markdown/HTML in a model-index metric."""
    from huggingface_hub import ModelCard

    token = hub.token("alice", [ORG])
    repo_id = unique("hostile-config")
    publish_run(run, repo_id, token, dataset_repo_id=repo_id + "-data")
    api = hub.api(token)
    config = yaml.safe_load(Path(api.hf_hub_download(repo_id, "training_config.yaml")).read_text())
    config["training"] |= {"dataloader_num_workers": 32, "threads": 512, "num_train_epochs": 10_000, "per_device_train_batch_size": 100_000}
    card = ModelCard.load(api.hf_hub_download(repo_id, "README.md"))
    card.data.eval_results[0].metric_type = INJECTION
    api.upload_file(path_or_fileobj=yaml.safe_dump(config).encode(), path_in_repo="training_config.yaml", repo_id=repo_id)
    api.upload_file(path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id=repo_id)
    return repo_id


def test_a_published_config_is_clamped_to_this_machine_and_says_so(hostile_published, tmp_path: Path) -> None:
    from hubtools.threads import available_cores

    cores = len(available_cores())
    status, output = cli("reproduce", hostile_published, "--evaluate-only", "--out", str(tmp_path))
    assert status == 6, output  # the injected metric is not one the evaluation computes
    adjusted = [line for line in output.splitlines() if line.startswith("Adjusted: ")]
    assert adjusted == [
        f"Adjusted: training.dataloader_num_workers: 32 in the published config, {max(0, cores - 1)} here (this machine gives hubtools {cores} core(s))",
        f"Adjusted: training.threads: 512 in the published config, {cores} here (this machine gives hubtools {cores} core(s))",
        "Adjusted: training.num_train_epochs: 10000 in the published config, 50 here (hubtools' bound for reruns)",
        "Adjusted: training.per_device_train_batch_size: 100000 in the published config, 256 here (hubtools' bound for reruns)",
    ]
    report = json.loads((tmp_path / "reproduction.json").read_text())
    assert report["clamped"] == [line.removeprefix("Adjusted: ") for line in adjusted]


def test_card_strings_are_escaped_in_the_reproduction_report(hostile_published, tmp_path: Path) -> None:
    from hubtools.reproduce import ReproduceOptions, reproduce

    result = reproduce(ReproduceOptions(hostile_published, tmp_path, evaluate_only=True))
    markdown = (tmp_path / "reproduction.md").read_text()
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown and "[click](" not in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == len(result.checks) + 1  # the header and one row per claim: no forged row
    assert "Adjusted to this machine" in markdown


def test_reproduce_takes_no_local_path_for_a_dataset_or_base_model(tmp_path: Path) -> None:
    """What `reproduce` would download is named by the repo: a path is listed as missing, never read or sent to the Hub."""
    from hubtools.claims import Claim
    from hubtools.config import RunConfig
    from hubtools.reproduce import Published, missing_for

    claim = Claim("model-index", "accuracy", 0.9, "test", "/home/me/private-data", "0" * 40)
    provenance = {"base_model": {"id": "../../models/mine", "revision": "0" * 40}}
    published = Published(tmp_path, "0" * 40, card="a card", label_names=["a", "b"], config=RunConfig(), clamped=[], provenance=provenance, claims=[claim])
    assert missing_for(None, published, evaluate_only=False) == [
        "the model-index's dataset type '/home/me/private-data' is not a Hub dataset id: only Hub datasets are downloaded",
        "reproduce.json names the base model '../../models/mine', which is not a Hub repo id",
    ]
