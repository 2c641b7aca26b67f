"""A dataset repo's benchmark declaration (`eval.yaml`): written by `hubtools dataset build --benchmark`, and read
from the Hub before a model card is rendered (its task ids decide the card's `.eval_results`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError, RemoteEntryNotFoundError, RepositoryNotFoundError

from hubtools.card.facts import CardError, Links
from hubtools.card.model_index import BENCHMARK_FILE, benchmark_record
from hubtools.errors import one_line
from hubtools.hubclient import with_retries
from hubtools.rundir import RunDir, write_json_atomic


def benchmark_tasks(links: Links, token: str | None = None) -> list[dict[str, Any]]:
    """Task ids of the dataset repo's eval.yaml (`hubtools dataset build --benchmark` writes one).

    [] only on the Hub's definite answer that there is none: the repo has no eval.yaml, or no such repo is visible
    to the token (not yet published). Any other failure raises (HubUnreachableError after the retries; CardError
    for a gated repo, a missing revision, another HTTP error or a broken file), so a card is never rendered
    without the `.eval_results` it should have."""
    if not links.dataset_repo_id:
        return []
    where = f"{BENCHMARK_FILE} of dataset repo {links.dataset_repo_id} at {links.endpoint}"
    try:
        with tempfile.TemporaryDirectory(prefix="hubtools-eval-yaml-") as cache:  # the Hub's answer now, never a cached copy
            path = with_retries(
                lambda: hf_hub_download(
                    links.dataset_repo_id, BENCHMARK_FILE, repo_type="dataset", revision=links.dataset_revision,
                    endpoint=links.endpoint, token=token, cache_dir=cache,
                ),
                f"reading {where}, which decides the card's .eval_results (the card was not written)",
                links.endpoint,
            )
            tasks = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("tasks") or []
    except RemoteEntryNotFoundError:
        return []
    except RepositoryNotFoundError as error:
        if isinstance(error, GatedRepoError):
            raise CardError(f"{where}: the repo is gated; use a token with access (whether it is a benchmark decides .eval_results)") from error
        return []
    except (OSError, ValueError, yaml.YAMLError) as error:  # a Hub that cannot be reached: HubUnreachableError, as is
        raise CardError(
            f"{where}: could not be read ({one_line(error)}); whether the dataset is a benchmark decides the card's .eval_results, "
            "so the card was not written: check the endpoint and retry"
        ) from error
    return [task for task in tasks if isinstance(task, dict) and task.get("id") and task.get("metric")]


BENCHMARK_TASKS = ({"id": "f1_macro", "split": "test", "metric": "f1_macro"}, {"id": "accuracy", "split": "test", "metric": "accuracy"})


def write_benchmark_declaration(dataset_dir: Path) -> Path:
    """eval.yaml: declares a dataset a benchmark, so models scored on its test split publish `.eval_results` for these tasks."""
    path = Path(dataset_dir) / BENCHMARK_FILE
    header = "# hubtools benchmark: models evaluated on the test split publish .eval_results entries for these task ids\n"
    path.write_text(header + yaml.safe_dump({"tasks": list(BENCHMARK_TASKS)}, sort_keys=False), encoding="utf-8")
    return path


def save_benchmark_tasks(run: RunDir, links: Links, token: str | None = None) -> None:
    """Ask the Hub which tasks the dataset repo's eval.yaml declares and keep the answer in RUN/benchmark_tasks.json,
    for rendering to read (no dataset repo: nothing to ask, nothing kept)."""
    if links.dataset_repo_id:
        write_json_atomic(run.benchmark_tasks, {**benchmark_record(links), "tasks": benchmark_tasks(links, token)})
