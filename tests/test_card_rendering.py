"""Rendering a card has no side effects, and every card kind (model, dataset, Space README) fails on a name its
context lacks. On the committed minimal run (tests/fixtures/run-minimal): no training, no Hub."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from huggingface_hub import parse_eval_result_entries

import hubtools.card.render as rendering
import hubtools.space.render as space
from hubtools.card.facts import CardError
from hubtools.card.render import render_dataset_card, render_model_card
from hubtools.card.write import write_card_files
from hubtools.dataset_repo import label_order, read_named_splits, write_hub_splits
from hubtools.rundir import RunDir
from hubtools.space import SpaceSpec, render_space

FIXTURE = Path(__file__).parent / "fixtures" / "run-minimal"
UNDEFINED = "{{ no_such_variable }}\n"


@pytest.fixture()
def run(tmp_path: Path) -> RunDir:
    shutil.copytree(FIXTURE, tmp_path / "run")
    return RunDir(tmp_path / "run")


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256): equal trees mean byte-identical folders."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()}


def dataset_info(run: RunDir, folder: Path):
    """The DatasetInfo the dataset card describes, from Parquet files written outside the run (as publish does)."""
    return write_hub_splits(read_named_splits(run), label_order(run, run.read_json(run.dataset_stats)["label_names"]), folder)


def test_rendering_the_cards_leaves_the_run_byte_identical_and_writes_nothing(run: RunDir, tmp_path: Path, monkeypatch) -> None:
    info = dataset_info(run, tmp_path / "elsewhere")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    before = tree(run.root)

    model_card = render_model_card(run.root, model_repo_id="acme/minimal", dataset_repo_id=None, space_repo_id="acme/minimal-demo")
    dataset_card = render_dataset_card(run.root, info, dataset_repo_id="acme/minimal-data", model_repo_id="acme/minimal")

    assert tree(run.root) == before
    assert not run.card.exists() and not list(workdir.iterdir())
    assert model_card.readme.startswith("---\n") and {"confusion_matrix.png", "training_config.yaml"} <= set(model_card.files)
    assert dataset_card.readme.startswith("---\n") and {"label_distribution.png", "dataset_stats.json"} <= set(dataset_card.files)

    readme = write_card_files(model_card, tmp_path / "card", overwrite=False)  # writing is the caller's step
    assert readme.read_text(encoding="utf-8") == model_card.readme and tree(run.root) == before


def template_copy(source: Path, target: Path, name: str) -> Path:
    shutil.copytree(source, target)
    (target / name).write_text((target / name).read_text(encoding="utf-8") + UNDEFINED, encoding="utf-8")
    return target


def test_the_model_card_fails_on_a_name_its_context_lacks(run: RunDir, tmp_path: Path, monkeypatch) -> None:
    templates = template_copy(rendering.cards_dir(), tmp_path / "templates", "model_card.md.j2")
    monkeypatch.setattr(rendering, "cards_dir", lambda: templates)
    with pytest.raises(CardError, match=r"model_card.md.j2: 'no_such_variable' is undefined"):
        render_model_card(run.root)


def test_the_dataset_card_fails_on_a_name_its_context_lacks(run: RunDir, tmp_path: Path, monkeypatch) -> None:
    info = dataset_info(run, tmp_path / "data")
    templates = template_copy(rendering.cards_dir(), tmp_path / "templates", "dataset_card.md.j2")
    monkeypatch.setattr(rendering, "cards_dir", lambda: templates)
    with pytest.raises(CardError, match=r"dataset_card.md.j2: 'no_such_variable' is undefined"):
        render_dataset_card(run.root, info)


def test_the_space_readme_fails_on_a_name_its_context_lacks(tmp_path: Path, monkeypatch) -> None:
    templates = tmp_path / "spaces"
    template_copy(space.spaces_dir() / space.TEMPLATE, templates / space.TEMPLATE, "README.md")
    monkeypatch.setattr(space, "spaces_dir", lambda: templates)
    with pytest.raises(CardError, match=r"README.md: 'no_such_variable' is undefined"):
        render_space(SpaceSpec(model_repo_id="acme/minimal", space_repo_id="acme/minimal-demo", examples=[], label_definitions={}, trained_max_length=48), tmp_path / "space")


def test_rendering_for_a_dataset_repo_reads_the_benchmark_answer_gathered_before(run: RunDir) -> None:
    """Rendering never asks the Hub: without RUN/benchmark_tasks.json for this dataset repo it names the command that
    reads the repo's eval.yaml; with it, `.eval_results` holds the declared tasks (values from metrics.json)."""
    with pytest.raises(CardError, match=r"benchmark_tasks.json: holds no answer for dataset repo acme/minimal-data at https://huggingface.co; "
                                        r"render with `hubtools card --run .* --dataset-repo acme/minimal-data`"):
        render_model_card(run.root, dataset_repo_id="acme/minimal-data")

    record = {"dataset_repo_id": "acme/minimal-data", "dataset_revision": None, "endpoint": "https://huggingface.co",
              "tasks": [{"id": "acc", "split": "test", "metric": "accuracy"}]}
    run.benchmark_tasks.write_text(json.dumps(record), encoding="utf-8")
    rendered = render_model_card(run.root, dataset_repo_id="acme/minimal-data").files[".eval_results/hubtools.yaml"]
    entries = parse_eval_result_entries(yaml.safe_load(rendered))
    accuracy = json.loads(run.metrics.read_text(encoding="utf-8"))["test"]["accuracy"]
    assert [(entry.task_id, entry.value) for entry in entries] == [("acc", round(accuracy, 4))]

    with pytest.raises(CardError, match=r"holds no answer for dataset repo acme/other-data"):  # kept for another repo
        render_model_card(run.root, dataset_repo_id="acme/other-data")
