"""A repo someone else wrote, read as untrusted input (`audit`, `reproduce`, `evaluate` of a published model).

- the model: the repo's file list is read first (code files and pickles are refused by name, weights past
  `model_bytes_bound()` before any download), only model files are downloaded (never `*.py`), and the folder
  passes `hubtools.model_files.check_model_folder` before transformers builds anything from it;
- a dataset a card names: only a Hub dataset id, checked to exist on the Hub in use, whose data files are
  downloaded and read by hubtools (Parquet, CSV, JSON Lines); never `datasets.load_dataset` on a repo-given
  name, which would read a local folder or a packaged loader (`csv`) relative to the user's working directory.
  The reasons a dataset cannot be used name the repo and its files, never local paths or file contents;
- a published training config: workers, threads, epochs and batch sizes clamped to this machine.

Every download goes to the endpoint passed in (the `HfApi` given); nothing here changes library state.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.errors import HubtoolsError
from hubtools.model_files import UntrustedModelError, check_model_folder
from hubtools.rundir import MODEL_FILE_PATTERNS

if TYPE_CHECKING:
    from datasets import Dataset
    from huggingface_hub import HfApi

    from hubtools.config import RunConfig

MEMORY_SHARE_FOR_WEIGHTS = 4  # weights past a quarter of the machine's memory leave no room to run them
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
DATA_READERS = {".parquet": "from_parquet", ".csv": "from_csv", ".jsonl": "from_json", ".json": "from_json"}
MAX_EPOCHS = 50  # a text classifier's fine-tuning; past this a published config is not one hubtools reruns as is
MAX_BATCH_SIZE = 256  # per device; MiniLM/base-size activations at 512 tokens fill a laptop's memory past this


class UnusableDataset(HubtoolsError):
    """A dataset a card names that hubtools cannot evaluate on: the reason names the repo, never local data."""


def model_bytes_bound() -> int:
    """The largest total size of safetensors weights hubtools builds a model from on this machine."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // MEMORY_SHARE_FOR_WEIGHTS


def download_model(api: HfApi, repo_id: str, revision: str | None) -> Path:
    """The repo's model files in the Hub cache, checked (`check_model_folder`); UntrustedModelError names what is refused."""
    from hubtools.hubclient import with_retries

    info = with_retries(lambda: api.model_info(repo_id, revision=revision, files_metadata=True), f"reading model repo {repo_id}", api.endpoint)
    files = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or []}
    code = sorted(name for name in files if name.endswith(".py"))
    if code:
        raise UntrustedModelError(
            f"{repo_id}: the model needs its own code ({', '.join(code[:4])}{' …' if len(code) > 4 else ''}), "
            "which hubtools never runs (trust_remote_code stays off); use a model that loads with transformers' own classes"
        )
    weights = [name for name in files if name.endswith(".safetensors") and "/" not in name]
    if not weights:
        pickles = sorted(name for name in files if name.endswith(PICKLE_SUFFIXES))
        found = f" (only {', '.join(pickles[:4])}: pickles, which hubtools never loads)" if pickles else ""
        raise UntrustedModelError(f"{repo_id}: no *.safetensors weights{found}; convert the weights to safetensors")
    weight_bytes, bound = sum(files[name] for name in weights), model_bytes_bound()
    if weight_bytes > bound:
        raise UntrustedModelError(f"{repo_id}: its weights are {weight_bytes:,} bytes, over the {bound:,} this machine allows for a model")
    folder = with_retries(
        lambda: api.snapshot_download(repo_id, revision=info.sha, allow_patterns=list(MODEL_FILE_PATTERNS)),
        f"downloading the model files of {repo_id}",
        api.endpoint,
    )
    check_model_folder(Path(folder), repo_id, bound)
    return Path(folder)


def is_hub_repo_id(value: str) -> bool:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def hub_dataset_id(value: str | None) -> str:
    """A repo-given dataset name as a Hub dataset id; UnusableDataset for a path, a file or anything else."""
    if not value or value == "custom":
        raise UnusableDataset("the model-index names no Hub dataset (type `custom` or none)")
    if not is_hub_repo_id(value):
        raise UnusableDataset(f"dataset type {value[:80]!r} is not a Hub dataset id (a local path or file?); only Hub datasets are evaluated")
    return value


def download_split(api: HfApi, dataset: str, revision: str | None, split: str) -> Dataset:
    """Split `split` of Hub dataset `dataset` (at `revision`), read from its data files by hubtools."""
    from datasets.data_files import get_data_patterns
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    from hubtools.hubclient import with_retries

    dataset = hub_dataset_id(dataset)
    try:
        info = with_retries(lambda: api.dataset_info(dataset, revision=revision), f"reading dataset repo {dataset}", api.endpoint)
    except GatedRepoError as error:
        raise UnusableDataset(f"dataset {dataset} is gated on {api.endpoint}: request access and use a token that has it") from error
    except RevisionNotFoundError as error:
        raise UnusableDataset(f"dataset {dataset} has no revision {revision} on {api.endpoint}") from error
    except RepositoryNotFoundError as error:
        raise UnusableDataset(f"dataset {dataset} is not on the Hub at {api.endpoint} (or is private to this token)") from error
    folder = with_retries(
        lambda: api.snapshot_download(dataset, repo_type="dataset", revision=info.sha, allow_patterns=[f"*{suffix}" for suffix in DATA_READERS]),
        f"downloading dataset repo {dataset}",
        api.endpoint,
    )
    try:
        patterns = get_data_patterns(str(folder)).get(split, [])
    except Exception as error:  # datasets' EmptyDatasetError: no data file in the repo
        raise UnusableDataset(f"dataset {dataset} has no Parquet, CSV or JSON Lines data files") from error
    files = sorted({path for pattern in patterns for path in _matching(pattern, str(folder))})
    if not files:
        raise UnusableDataset(f"dataset {dataset} has no split {split!r} in its data files")
    suffix = Path(files[0]).suffix
    named = ", ".join(os.path.relpath(path, folder) for path in files[:3])
    if suffix not in DATA_READERS or any(Path(path).suffix != suffix for path in files):
        raise UnusableDataset(f"dataset {dataset}[{split}]: {named} are not all Parquet, CSV or JSON Lines files of one kind")
    from datasets import Dataset

    try:
        return getattr(Dataset, DATA_READERS[suffix])(files, split=split)
    except Exception as error:  # a broken file of the repo: named by its path in the repo, its content never quoted
        raise UnusableDataset(f"dataset {dataset}[{split}]: {named} could not be read as {suffix[1:]} ({type(error).__name__})") from error


def _matching(pattern: str, folder: str) -> list[str]:
    """The files of `folder` a datasets split pattern matches (none: [], where datasets raises)."""
    from datasets.data_files import resolve_pattern

    try:
        return resolve_pattern(pattern, base_path=folder)
    except FileNotFoundError:
        return []


def clamp_to_machine(config: RunConfig) -> tuple[RunConfig, list[str]]:
    """A published config with workers, threads, epochs and batch sizes no larger than this machine takes; one line per change."""
    from hubtools.threads import available_cores

    cores = len(available_cores())
    training = config.training
    bounds = {
        "dataloader_num_workers": max(0, cores - 1),
        "threads": cores,
        "num_train_epochs": MAX_EPOCHS,
        "per_device_train_batch_size": MAX_BATCH_SIZE,
        "per_device_eval_batch_size": MAX_BATCH_SIZE,
    }
    changes, notes = {}, []
    for name, bound in bounds.items():
        value = getattr(training, name)
        if value is not None and value > bound:
            changes[name] = bound
            why = f"this machine gives hubtools {cores} core(s)" if name in ("dataloader_num_workers", "threads") else "hubtools' bound for reruns"
            notes.append(f"training.{name}: {value:g} in the published config, {bound} here ({why})")
    return dataclasses.replace(config, training=dataclasses.replace(training, **changes)), notes
