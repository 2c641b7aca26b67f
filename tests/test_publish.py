"""`hubtools publish` end to end on the embedded Hub, with the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.errors import RepositoryNotFoundError

import hubtools.hubclient as hubclient
from hubtools.errors import HubtoolsError
from hubtools.publish.checks import check_model_card
from hubtools.rundir import RunDir
from publishing_support import copy_of_trained_run, publish_run, repo_files

ORG = "pubtest"


@pytest.fixture(scope="module")
def token(hub) -> str:
    return hub.token("alice", [ORG])


@pytest.fixture(scope="module")
def published(hub, token, tmp_path_factory) -> tuple[RunDir, list[str]]:
    """The run published once: model + dataset + Space, verified."""
    run = copy_of_trained_run(tmp_path_factory, "published")
    lines: list[str] = []
    publish_run(run, f"{ORG}/tiny", token, lines, dataset_repo_id=f"{ORG}/tiny-data", space_repo_id=f"{ORG}/tiny-demo", verify=True)
    return run, lines


def test_first_publish_puts_model_card_dataset_and_space_on_the_hub(hub, token, published) -> None:
    run, lines = published
    api = hub.api(token)
    files = repo_files(api, f"{ORG}/tiny")
    expected = {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md",
                "confusion_matrix.png", "reliability_diagram.png", "training_config.yaml"}
    assert expected <= set(files)
    assert not [path for path in files if path.startswith(".eval_results/")]  # the run's dataset declares no benchmark
    assert any(path.startswith("runs/events.out.tfevents") for path in files)
    assert not [path for path in files if path.startswith("checkpoints/") or path.endswith((".bin", ".pt", ".pth"))]

    card = ModelCard.load(api.hf_hub_download(f"{ORG}/tiny", "README.md"))
    assert card.data.datasets == [f"{ORG}/tiny-data"]
    dataset_head = api.repo_info(f"{ORG}/tiny-data", repo_type="dataset").sha
    assert {result.dataset_revision for result in card.data.eval_results} == {dataset_head}  # published together: pinned
    assert {result.dataset_split for result in card.data.eval_results} == {"test"}
    assert f"{ORG}/tiny-demo" in card.text
    assert set(repo_files(api, f"{ORG}/tiny-data", "dataset")) >= {"README.md", "data/train.parquet", "data/validation.parquet", "data/test.parquet"}
    space = api.space_info(f"{ORG}/tiny-demo")
    assert space.sdk == "gradio" and {"app.py", "requirements.txt", "README.md"} <= {s.rfilename for s in space.siblings}

    assert any(line.startswith("model") and f"{hub.endpoint}/{ORG}/tiny" in line and "commit " in line for line in lines)
    assert any(f"{hub.endpoint}/spaces/{ORG}/tiny-demo" in line for line in lines)
    assert any(f"{hub.endpoint}/datasets/{ORG}/tiny-data" in line for line in lines)
    assert any(line.startswith(f"verify {ORG}/tiny:") and "card metrics match" in line for line in lines)
    assert all(token not in line for line in lines)


def test_the_published_dataset_loads_with_datasets_as_a_class_label(hub, published) -> None:
    import json

    import pandas as pd
    from datasets import ClassLabel, load_dataset
    from huggingface_hub import DatasetCard

    run, _ = published
    id2label = json.loads((run.model / "config.json").read_text())["id2label"]
    names = [id2label[key] for key in sorted(id2label, key=int)]
    dataset = load_dataset(f"{ORG}/tiny-data")
    test = pd.read_parquet(run.split("test"))
    assert dataset["test"].features["label"] == ClassLabel(names=names)
    assert dataset["test"]["text"] == test["text"].tolist()
    assert dataset["test"].features["label"].int2str(dataset["test"]["label"]) == test["label"].tolist()
    card = DatasetCard.load(hub.api().hf_hub_download(f"{ORG}/tiny-data", "README.md", repo_type="dataset"))
    assert {split["name"]: split["num_examples"] for split in card.data.dataset_info["splits"]} == {name: dataset[name].num_rows for name in dataset}


def test_republishing_an_unchanged_run_makes_no_commit(hub, token, published) -> None:
    run, _ = published
    api = hub.api(token)
    repos = ((f"{ORG}/tiny", "model"), (f"{ORG}/tiny-data", "dataset"), (f"{ORG}/tiny-demo", "space"))
    heads = {repo: api.repo_info(repo, repo_type=kind).sha for repo, kind in repos}

    result = publish_run(run, f"{ORG}/tiny", token, dataset_repo_id=f"{ORG}/tiny-data", space_repo_id=f"{ORG}/tiny-demo")

    assert [commit.commit_id for commit in result.commits] == [None, None, None]
    assert all(not plan.pending() for plan in result.plans)
    assert heads == {repo: api.repo_info(repo, repo_type=kind).sha for repo, kind in repos}


def test_changing_only_the_card_uploads_only_readme(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "card-change")
    api = hub.api(token)
    publish_run(run, f"{ORG}/card-change", token, space_repo_id=None)
    before = repo_files(api, f"{ORG}/card-change")

    readme = run.card / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nReviewed by the ADS509 team.\n", encoding="utf-8")
    result = publish_run(run, f"{ORG}/card-change", token, space_repo_id=None)

    (model_commit,) = result.commits
    assert [(change.path, change.status) for change in model_commit.plan.pending()] == [("README.md", "changed")]
    after = repo_files(api, f"{ORG}/card-change")
    assert {path for path in after if after[path] != before.get(path)} == {"README.md"}
    assert api.repo_info(f"{ORG}/card-change").sha == model_commit.commit_id
    assert len(api.list_repo_commits(f"{ORG}/card-change")) == 3  # initial + first publish + card change


def test_a_new_dataset_commit_alone_uploads_the_card_pinned_to_it(hub, token, tmp_path_factory) -> None:
    """Only the dataset repo changed: the card is re-pinned to the new dataset commit after the scan, so it must be
    hashed again and uploaded (it was judged unchanged with the digests of the card before the pin)."""
    run = copy_of_trained_run(tmp_path_factory, "repin")
    api = hub.api(token)
    publish_run(run, f"{ORG}/repin", token, dataset_repo_id=f"{ORG}/repin-data", space_repo_id=None)
    api.upload_file(path_or_fileobj=b"not from the run\n", path_in_repo="notes.txt", repo_id=f"{ORG}/repin-data", repo_type="dataset")
    card_files = {path: path.read_bytes() for path in sorted(run.card.rglob("*")) if path.is_file()}

    result = publish_run(run, f"{ORG}/repin", token, dataset_repo_id=f"{ORG}/repin-data", space_repo_id=None, mirror=True)

    # the pin goes into publish's copy of the card: RUN/card stays as `hubtools card` wrote it (data flows one way)
    assert {path: path.read_bytes() for path in sorted(run.card.rglob("*")) if path.is_file()} == card_files

    dataset_commit, model_commit = result.commits
    assert [(change.path, change.status) for change in dataset_commit.plan.pending()] == [("notes.txt", "deleted")]
    assert [(change.path, change.status) for change in model_commit.plan.pending()] == [("README.md", "changed")]
    card = ModelCard.load(api.hf_hub_download(f"{ORG}/repin", "README.md"))
    assert {result.dataset_revision for result in card.data.eval_results} == {dataset_commit.commit_id}


def test_dry_run_writes_the_tree_and_the_diff_and_uploads_nothing(hub, token, published, tmp_path: Path) -> None:
    run, _ = published
    readme = run.card / "README.md"
    original = readme.read_text(encoding="utf-8")
    readme.write_text(original + "\nA dry-run edit.\n", encoding="utf-8")
    try:
        lines: list[str] = []
        publish_run(run, f"{ORG}/tiny", token, lines, space_repo_id=f"{ORG}/tiny-demo", dry_run=tmp_path / "tree")
        head = hub.api(token).repo_info(f"{ORG}/tiny").sha
        new_lines: list[str] = []
        publish_run(run, f"{ORG}/never-created", token, new_lines, space_repo_id=None, dry_run=tmp_path / "new")
    finally:
        readme.write_text(original, encoding="utf-8")

    text = "\n".join(lines)
    assert "~ README.md" in text and "1 changed" in text and "0 added" in text
    assert (tmp_path / "tree" / "model" / "README.md").read_text(encoding="utf-8").endswith("A dry-run edit.\n")
    assert (tmp_path / "tree" / "model" / "model.safetensors").stat().st_size == (run.model / "model.safetensors").stat().st_size
    assert (tmp_path / "tree" / "space" / "app.py").is_file()
    assert not (tmp_path / "tree" / "model" / "checkpoints").exists()
    assert hub.api(token).repo_info(f"{ORG}/tiny").sha == head
    assert "new repo" in new_lines[0] and "+ model.safetensors" in "\n".join(new_lines)
    assert not hub.api(token).repo_exists(f"{ORG}/never-created")


def test_create_pr_and_revision_leave_main_alone(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "pr")
    api = hub.api(token)
    publish_run(run, f"{ORG}/pr", token, space_repo_id=None)
    main_head = api.repo_info(f"{ORG}/pr").sha
    readme = run.card / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nProposed change.\n", encoding="utf-8")

    lines: list[str] = []
    (pr_commit,) = publish_run(run, f"{ORG}/pr", token, lines, space_repo_id=None, create_pr=True, commit_message="Propose a card edit").commits
    (branch_commit,) = publish_run(run, f"{ORG}/pr", token, space_repo_id=None, revision="dev").commits

    assert pr_commit.pr_url and "/discussions/" in pr_commit.pr_url
    assert any(pr_commit.pr_url in line for line in lines)
    assert api.repo_info(f"{ORG}/pr").sha == main_head
    refs = api.list_repo_refs(f"{ORG}/pr", include_pull_requests=True)
    assert [ref.target_commit for ref in refs.pull_requests] == [pr_commit.commit_id]
    assert {branch.name: branch.target_commit for branch in refs.branches}["dev"] == branch_commit.commit_id
    assert api.list_repo_commits(f"{ORG}/pr", revision=pr_commit.commit_id)[0].title == "Propose a card edit"


def test_private_repo_is_invisible_to_strangers(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "private")
    publish_run(run, f"{ORG}/secret-model", token, space_repo_id=None, private=True)

    assert hub.api(token).model_info(f"{ORG}/secret-model").private is True
    with pytest.raises(RepositoryNotFoundError):
        hub.api(None).model_info(f"{ORG}/secret-model")
    with pytest.raises(RepositoryNotFoundError):
        hub.api(hub.token("mallory")).model_info(f"{ORG}/secret-model")

    lines: list[str] = []
    publish_run(run, f"{ORG}/secret-model", token, lines, space_repo_id=None, private=True)
    assert not any("already exists and is public" in line for line in lines)
    publish_run(run, f"{ORG}/public-model", token, space_repo_id=None)
    publish_run(run, f"{ORG}/public-model", token, lines, space_repo_id=None, private=True)
    assert any(f"{ORG}/public-model already exists and is public" in line for line in lines)


def test_tokens_that_cannot_write_are_refused_before_any_upload(hub, published, tmp_path_factory) -> None:
    run, _ = published
    with pytest.raises(HubtoolsError, match="the token for bob is read-only"):
        publish_run(run, f"{ORG}/refused", hub.token("bob", [ORG], read_only=True), space_repo_id=None)
    with pytest.raises(HubtoolsError, match=f"carol is not a member of {ORG}"):
        publish_run(run, f"{ORG}/refused", hub.token("carol"), space_repo_id=None)
    with pytest.raises(HubtoolsError, match="no Hub token"):
        publish_run(run, f"{ORG}/refused", None, space_repo_id=None)
    assert not hub.api(None).repo_exists(f"{ORG}/refused")


def test_card_metadata_is_checked_by_the_endpoint_given_not_the_global_one(hub, token, published, monkeypatch) -> None:
    from huggingface_hub import constants

    run, _ = published
    card = run.card / "README.md"
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert check_model_card(card, hub.api(token), dataset_repo_id=None, space_repo_id=None) is None
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)  # now the global endpoint answers and the given one does not
    import httpx2  # huggingface_hub 2.x's HTTP client

    with pytest.raises(httpx2.ConnectError) as refused:  # asked the endpoint given, where nothing listens
        check_model_card(card, hubclient.hub_api(endpoint="http://127.0.0.1:9", token=token), dataset_repo_id=None, space_repo_id=None)
    assert str(refused.value.request.url) == "http://127.0.0.1:9/api/validate-yaml"


def test_bad_input_is_refused_before_any_upload(hub, token, published, tmp_path: Path) -> None:
    run, _ = published
    api = hub.api(token)
    with pytest.raises(HubtoolsError, match="expected ORG/NAME"):
        publish_run(run, "not-a-repo-id", token)
    with pytest.raises(HubtoolsError, match="run directory not found"):
        publish_run(RunDir(tmp_path / "missing"), f"{ORG}/nothing", token)
    api.create_repo(f"{ORG}/docker-demo", repo_type="space", space_sdk="docker")
    with pytest.raises(HubtoolsError, match="exists as a docker Space"):
        publish_run(run, f"{ORG}/wrong-type", token, space_repo_id=f"{ORG}/docker-demo")

    leaked = run.card / "notes.txt"
    leaked.write_text(f"debug: HF_TOKEN={token}\n", encoding="utf-8")
    try:
        with pytest.raises(HubtoolsError, match="looks like a token") as raised:
            publish_run(run, f"{ORG}/leaky", token, space_repo_id=None)
    finally:
        leaked.unlink()
    assert token not in str(raised.value)
    assert not api.repo_exists(f"{ORG}/wrong-type") and not api.repo_exists(f"{ORG}/leaky")


def test_a_card_whose_numbers_are_not_the_runs_is_refused_before_any_upload(hub, token, tmp_path_factory) -> None:
    """What `verify` would find only after the commits: refused while nothing is on the Hub yet."""
    run = copy_of_trained_run(tmp_path_factory, "stale-card")
    publish_run(run, f"{ORG}/stale-card", token, space_repo_id=None, dry_run=tmp_path_factory.mktemp("stale-dry"))  # renders RUN/card
    readme = run.card / "README.md"
    card = ModelCard.load(readme)
    accuracy = next(result for result in card.data.eval_results if result.metric_type == "accuracy")
    accuracy.metric_value = round(accuracy.metric_value - 0.01, 4)
    card.save(readme)

    with pytest.raises(HubtoolsError, match=r"README.md: says accuracy=.* but .*metrics.json says .*; re-render it .*nothing was uploaded"):
        publish_run(run, f"{ORG}/stale-card", token, space_repo_id=None)
    assert not hub.api(token).repo_exists(f"{ORG}/stale-card")


@pytest.mark.slow
def test_server_stopped_mid_upload_leaves_the_previous_commit_and_a_rerun_completes(
    hub, token, tmp_path_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub._commit_api as commit_api

    run = copy_of_trained_run(tmp_path_factory, "interrupted")
    api = hub.api(token)
    publish_run(run, f"{ORG}/interrupted", token, space_repo_id=None)
    previous = api.repo_info(f"{ORG}/interrupted").sha
    (run.model / "model.safetensors").write_bytes((run.model / "model.safetensors").read_bytes()[:-16] + b"\x00" * 16)

    real_upload = commit_api._upload_xet_files

    def stop_hub_then_upload(**kwargs):
        hub.stop()  # the server goes away once the Xet transfer of the new weights starts
        return real_upload(**kwargs)

    monkeypatch.setattr(commit_api, "_upload_xet_files", stop_hub_then_upload)
    monkeypatch.setattr(hubclient, "RETRY_BACKOFF_S", 0.05)
    monkeypatch.setattr(hubclient, "RETRY_ATTEMPTS", 2)
    try:
        with pytest.raises(HubtoolsError) as raised:
            publish_run(run, f"{ORG}/interrupted", token, space_repo_id=None)
    finally:
        hub.start()
    message = str(raised.value)
    assert "\n" not in message and f"still at {previous[:12]}" in message and "run the same command again" in message
    assert api.repo_info(f"{ORG}/interrupted").sha == previous

    monkeypatch.setattr(commit_api, "_upload_xet_files", real_upload)
    (commit,) = publish_run(run, f"{ORG}/interrupted", token, space_repo_id=None).commits
    assert [change.path for change in commit.plan.pending()] == ["model.safetensors"]
    assert repo_files(api, f"{ORG}/interrupted")["model.safetensors"] == hashlib.sha256((run.model / "model.safetensors").read_bytes()).hexdigest()


def test_cli_publish_reads_hf_token_and_never_prints_it(hub, token, published) -> None:
    run, _ = published
    environment = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token}
    done = subprocess.run(
        [sys.executable, "-m", "hubtools.cli", "publish", "--repo", f"{ORG}/tiny", "--run", str(run.root),
         "--dataset-repo", f"{ORG}/tiny-data", "--no-verify"],
        env=environment, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "unchanged, no commit" in done.stdout and f"{hub.endpoint}/spaces/{ORG}/tiny-demo" in done.stdout
    assert token not in done.stdout + done.stderr

    refused = subprocess.run(
        [sys.executable, "-m", "hubtools.cli", "publish", "--repo", "bad id", "--run", str(run.root)],
        env=environment, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 2 and refused.stderr.startswith("Error: --repo 'bad id'") and refused.stderr.count("\n") == 1


MARKDOWN_TARGETS = ("href", "src")


def relative_targets(markdown: str) -> set[str]:
    """Every link and image target of a card (markdown and inline HTML) on this Hub: inside the repo, or a Hub path."""
    from markdown_it import MarkdownIt

    targets: set[str] = set()
    parser = MarkdownIt("commonmark", {"html": True})
    for token in parser.parse(markdown):
        for child in [token, *(token.children or [])]:
            for name in MARKDOWN_TARGETS:
                value = child.attrGet(name) if child.attrs else None
                if value:
                    targets.add(str(value))
            if child.type in ("html_inline", "html_block"):
                targets.update(re.findall(r"""(?:href|src)=["']([^"']+)["']""", child.content))
    return {target.split("#")[0].split("?")[0] for target in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#|//)", target)} - {""}


def test_every_relative_link_and_image_in_every_published_card_resolves(hub, token, published) -> None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.repocard import RepoCard

    api = hub.api(token)
    checked = set()
    for repo_id, repo_type in ((f"{ORG}/tiny", "model"), (f"{ORG}/tiny-data", "dataset"), (f"{ORG}/tiny-demo", "space")):
        commit = api.repo_info(repo_id, repo_type=repo_type).sha
        card = RepoCard.load(api.hf_hub_download(repo_id, "README.md", repo_type=repo_type, revision=commit))
        for target in sorted(relative_targets(card.text)):
            if target.startswith("/"):  # a page of the Hub the card is on (another repo, the Space), never a host and port
                assert httpx.get(hub.endpoint + target, headers={"Authorization": f"Bearer {token}"}).status_code == 200, target
            else:
                url = hf_hub_url(repo_id, target.removeprefix("./"), repo_type=repo_type, revision=commit, endpoint=hub.endpoint)
                get_hf_file_metadata(url, token=token)  # raises EntryNotFoundError for a link to a file not in the commit
            checked.add((repo_type, target))
    assert {("model", "confusion_matrix.png"), ("dataset", "label_distribution.png"), ("dataset", "dataset_stats.json"),
            ("model", f"/datasets/{ORG}/tiny-data"), ("model", f"/spaces/{ORG}/tiny-demo")} <= checked


def test_a_card_edited_on_the_hub_is_not_overwritten_silently(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "edited")
    api = hub.api(token)
    publish_run(run, f"{ORG}/edited", token, dataset_repo_id=f"{ORG}/edited-data", space_repo_id=None)
    card = api.hf_hub_download(f"{ORG}/edited-data", "README.md", repo_type="dataset")
    edited = Path(card).read_text(encoding="utf-8") + "\nCurated further by the ADS509 team.\n"
    api.upload_file(path_or_fileobj=edited.encode(), path_in_repo="README.md", repo_id=f"{ORG}/edited-data", repo_type="dataset",
                    commit_message="Edit the card on the Hub")
    head = api.repo_info(f"{ORG}/edited-data", repo_type="dataset").sha

    with pytest.raises(HubtoolsError, match=rf"datasets/{ORG}/edited-data: README.md was edited on the Hub since hubtools published it in \w{{12}}; .*--replace-edited-cards") as refused:
        publish_run(run, f"{ORG}/edited", token, dataset_repo_id=f"{ORG}/edited-data", space_repo_id=None)
    assert "\n" not in str(refused.value)
    assert api.repo_info(f"{ORG}/edited-data", repo_type="dataset").sha == head

    publish_run(run, f"{ORG}/edited", token, dataset_repo_id=f"{ORG}/edited-data", space_repo_id=None, replace_edited_cards=True)
    assert "Curated further" not in Path(api.hf_hub_download(f"{ORG}/edited-data", "README.md", repo_type="dataset")).read_text(encoding="utf-8")
    (unchanged,) = publish_run(run, f"{ORG}/edited", token, dataset_repo_id=f"{ORG}/edited-data", space_repo_id=None).commits[:1]
    assert unchanged.commit_id is None  # after a publish the card is hubtools' own again


def test_a_private_model_gets_a_space_with_a_read_only_token_secret(hub, token, tmp_path_factory) -> None:
    run = copy_of_trained_run(tmp_path_factory, "private-space")
    model, space = f"{ORG}/private-with-space", f"{ORG}/private-with-space-demo"
    with pytest.raises(HubtoolsError, match=f"--private: the Space {space} needs a read-only token .*--space-token"):
        publish_run(run, model, token, space_repo_id=space, private=True)
    with pytest.raises(HubtoolsError, match="--space-token: a write-role token; .* read-only token"):
        publish_run(run, model, token, space_repo_id=space, private=True, space_token=hub.token("alice", [ORG]))
    assert not hub.api(token).repo_exists(model)

    reader = hub.token("space-reader", [ORG], read_only=True)
    publish_run(run, model, token, space_repo_id=space, private=True, space_token=reader)
    api = hub.api(token)
    assert set(api.get_space_secrets(space)) == {"HF_TOKEN"}
    folder = Path(api.snapshot_download(space, repo_type="space"))
    assert all(reader not in path.read_text(encoding="utf-8", errors="replace") for path in folder.rglob("*") if path.is_file())
    assert Path(hub.api(reader).hf_hub_download(model, "config.json")).is_file()  # the secret can load the private model
