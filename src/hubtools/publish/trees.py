"""The trees to publish: the model repo's files from the run directory, the dataset repo and the demo Space
rendered into a work folder."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.errors import HubtoolsError
from hubtools.publish.options import PublishOptions
from hubtools.rundir import MODEL_FILE_PATTERNS, SPLITS, RunDir

if TYPE_CHECKING:
    from huggingface_hub import HfApi


def _files_under(folder: Path, prefix: str = "") -> dict[str, Path]:
    """Every file under `folder`, keyed by its path below it (after `prefix`)."""
    return {f"{prefix}{path.relative_to(folder).as_posix()}": path for path in sorted(folder.rglob("*")) if path.is_file()}


def model_tree(run: RunDir) -> dict[str, Path]:
    """What goes in the model repo: weights, config, tokenizer, onnx/ (`hubtools export`), card + assets + .eval_results, TensorBoard.

    Args:
        run: the run directory (`hubtools train`, then `evaluate`, `card`, optionally `export`).

    Returns:
        path in the repo -> local file.
    """
    files = {
        path.name: path
        for path in sorted(run.model.iterdir())
        if path.is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in MODEL_FILE_PATTERNS)
    }
    files.update({f"{run.onnx.name}/{path.name}": path for path in (run.onnx_fp32, run.onnx_int8) if path.is_file()})
    files.update(_files_under(run.card))
    if run.tensorboard.is_dir():
        files.update(_files_under(run.tensorboard, prefix="runs/"))
    return files


def dataset_tree(dataset_dir: Path) -> dict[str, Path]:
    """The rendered dataset repo: ClassLabel Parquet splits, card, its image and dataset_stats.json.

    Args:
        dataset_dir: the folder `render_cards` returned.

    Returns:
        path in the repo -> local file.
    """
    return _files_under(dataset_dir)


def render_cards(run: RunDir, options: PublishOptions, api: HfApi, work_dir: Path) -> Path | None:
    """Write the model card into RUN/card when missing (or asked), and the dataset repo's tree into work_dir.

    Args:
        run: the run directory.
        options: the repos published to, and whether to re-render the card (`render_card`).
        api: the client of the Hub published to (its endpoint and token, for a private dataset's eval.yaml).
        work_dir: the publish's scratch folder.

    Returns:
        the dataset repo's folder, or None when no dataset repo is published.

    Raises:
        HubtoolsError: a split the dataset repo needs is missing from the run.
    """
    from hubtools import card

    endpoint = api.endpoint
    if options.render_card or not (run.card / "README.md").is_file():
        card.write_model_card(
            run.root,
            model_repo_id=options.repo_id,
            dataset_repo_id=options.dataset_repo_id,
            space_repo_id=options.space_repo_id,
            endpoint=endpoint,
            token=api.token,  # a private dataset repo's eval.yaml
        )
    if not options.dataset_repo_id:
        return None
    missing = [run.split(split) for split in SPLITS if not run.split(split).is_file()]
    if missing:
        raise HubtoolsError(f"{missing[0]}: missing, so the dataset cannot be published; run `hubtools train` first or drop --dataset-repo")
    return card.write_dataset_repo(
        run.root, work_dir / "dataset", dataset_repo_id=options.dataset_repo_id, model_repo_id=options.repo_id, endpoint=endpoint
    ).parent


def space_tree(run: RunDir, options: PublishOptions, endpoint: str, work_dir: Path) -> dict[str, Path]:
    """The demo Space rendered for the run into `work_dir`/space.

    Args:
        run: the run directory.
        options: the model, dataset and Space repos, and the Space's hardware.
        endpoint: the Hub the Space loads the model from.
        work_dir: the publish's scratch folder.

    Returns:
        path in the Space repo -> local file.
    """
    from hubtools.space import render_space, spec_for_run

    spec = spec_for_run(
        run, options.repo_id, options.space_repo_id or "", endpoint=endpoint, dataset_repo_id=options.dataset_repo_id,
        hardware=options.space_hardware,
    )
    return _files_under(render_space(spec, work_dir / "space"))
