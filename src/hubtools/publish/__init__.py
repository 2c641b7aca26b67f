"""`hubtools publish`: a run directory -> model repo (+ dataset repo, + demo Space) on the Hub.

Everything that can fail is checked before the first byte is uploaded (`checks`, `scan`); each repo is then
planned against what it holds now (`plan`) and gets one atomic, retry-safe commit holding only what changed
(`commit`). An unchanged run makes no commit. `publish` is the entry; the modules, in the order they run:
options -> trees -> checks -> scan -> plan -> commit, with `manifest` (what hubtools published before) and
`upload_streams` (the Xet upload cap) beside them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.errors import HubtoolsError
from hubtools.publish.checks import (
    CARD_FILE,
    card_gaps_to_publish,
    check_can_write,
    check_card_matches_run,
    check_card_not_edited_on_hub,
    check_model_card,
    check_repo_id,
    check_run,
    check_space_sdk,
    check_space_token,
)
from hubtools.publish.commit import CommitResult, commit_message, commit_plan, give_space_the_token
from hubtools.publish.manifest import write_manifest
from hubtools.publish.options import PublishOptions
from hubtools.publish.plan import RepoPlan, format_plan, read_remote, repo_url
from hubtools.publish.scan import scan_and_hash
from hubtools.publish.trees import dataset_tree, model_tree, render_cards, space_tree
from hubtools.publish.upload_streams import XET_UPLOAD_STREAMS_ENV, xet_upload_streams
from hubtools.rundir import RunDir
from hubtools.space import check_hardware

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from hubtools.verify import VerifyReport

__all__ = [
    "XET_UPLOAD_STREAMS_ENV",
    "PublishOptions",
    "PublishResult",
    "plan_publish",
    "publish",
    "repo_url",
    "xet_upload_streams",
]


@dataclass
class PublishResult:
    """What a publish planned and committed, and `verify`'s report on it (None with --create-pr or --no-verify)."""

    commits: list[CommitResult]
    plans: list[RepoPlan]
    verified: bool = False
    verification: VerifyReport | None = None


def plan_publish(options: PublishOptions, api: HfApi, work_dir: Path) -> list[RepoPlan]:
    """Every check and every diff, before anything is uploaded. Order: dataset, model, Space.

    Renders the model card into RUN/card when it is missing (or `render_card`), and the dataset repo and the
    Space into `work_dir`.

    Args:
        options: what to publish and where.
        api: the client of the Hub published to, with the token.
        work_dir: a scratch folder that outlives the plans (their files point into it).

    Returns:
        one plan per repo, each read from the remote, in commit order.

    Raises:
        HubtoolsError: bad input (repo ids, run directory, card, secrets in a file, a card edited on the Hub,
            no token or one without write rights).
        HubRefusedError: the Hub rejects a token.
        HubUnreachableError: the Hub did not answer after the retries.
    """
    check_repo_id(options.repo_id, "--repo", "model")
    if options.dataset_repo_id:
        check_repo_id(options.dataset_repo_id, "--dataset-repo", "dataset")
    if options.space_repo_id:
        check_repo_id(options.space_repo_id, "--space", "space")
    run = RunDir(options.run_dir)
    check_run(run)
    if api.token is None:
        raise HubtoolsError(f"no Hub token for {api.endpoint}: set HF_TOKEN, run `hf auth login`, or pass --token")
    check_can_write(api, {repo.split("/")[0] for repo in (options.repo_id, options.dataset_repo_id, options.space_repo_id) if repo})
    if options.space_repo_id:
        check_space_sdk(api, options.space_repo_id)
        check_hardware(options.space_hardware)
    check_space_token(options, api.endpoint)

    dataset_card_dir = render_cards(run, options, api, work_dir)
    check_model_card(run.card / "README.md", api, dataset_repo_id=options.dataset_repo_id, space_repo_id=options.space_repo_id)
    check_card_matches_run(run.card / "README.md", run)
    plans = []
    if dataset_card_dir is not None:
        plans.append(RepoPlan(options.dataset_repo_id, "dataset", dataset_tree(dataset_card_dir)))
    plans.append(RepoPlan(options.repo_id, "model", model_tree(run)))
    if options.space_repo_id:
        plans.append(RepoPlan(options.space_repo_id, "space", space_tree(run, options, api.endpoint, work_dir), space_hardware=options.space_hardware))
    for plan in plans:
        plan.mirror = options.mirror
        if plan.repo_type == "model" and plans[0].repo_type == "dataset" and plans[0].parent_commit:
            plan.files, _ = pinned_card_copy(plan.files, plans[0].parent_commit, work_dir)  # the dataset head; re-pinned if it moves
        plan.files = write_manifest(plan.files, work_dir / "manifests" / plan.repo_type)
        plan.digests = scan_and_hash(plan.files, api.token, options.space_token)
        read_remote(api, plan, options.revision)
        if plan.exists and not options.replace_edited_cards:
            check_card_not_edited_on_hub(api, plan)
    return plans


def pinned_card_copy(files: dict[str, Path], revision: str, work_dir: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The model repo's files with the card's results pinned to dataset commit `revision`, in a copy of the card
    under `work_dir`: RUN/card stays as `hubtools card` wrote it (data flows one way).

    Args:
        files: the model repo's path -> local file (the card's files among them).
        revision: the dataset repo's commit the results were scored on.
        work_dir: publish's scratch folder.

    Returns:
        `files` with README.md (and the .eval_results file) pointing at the pinned copies, and those copies alone.
    """
    from hubtools.card.model_index import EVAL_RESULTS_FILE
    from hubtools.card.write import set_dataset_revision

    folder = work_dir / "pinned-card"
    card_files = [path for path in (CARD_FILE, EVAL_RESULTS_FILE) if path in files]
    for path in card_files:
        if files[path] != folder / path:  # pinned at planning, pinned again after a new dataset commit
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files[path], folder / path)
    set_dataset_revision(folder, revision)
    pinned = {path: folder / path for path in card_files}
    return files | pinned, pinned


def pin_dataset_revision(api: HfApi, model_plan: RepoPlan, dataset_commit: CommitResult, options: PublishOptions, work_dir: Path) -> None:
    """Pin the model card's results (model-index, .eval_results) to the dataset commit just made, in publish's
    copy of the card, hash the pinned files again and re-diff the model repo.

    Args:
        api: the client of the Hub published to.
        model_plan: the model repo's plan, updated in place.
        dataset_commit: the dataset repo's commit (nothing is pinned when it opened a pull request).
        options: the revision published to and the Space's token (both refused in the pinned files).
        work_dir: publish's scratch folder, where the pinned copy of the card lives.

    Raises:
        HubtoolsError: a pinned file holds a secret.
        HubUnreachableError: the Hub did not answer after the retries.
    """
    dataset_revision = dataset_commit.commit_id or dataset_commit.plan.parent_commit
    if dataset_revision and not dataset_commit.pr_url:
        model_plan.files, pinned = pinned_card_copy(model_plan.files, dataset_revision, work_dir)
        model_plan.digests |= scan_and_hash(pinned, api.token, options.space_token)
        read_remote(api, model_plan, options.revision)


def write_dry_run(plans: list[RepoPlan], target: Path) -> None:
    """Copy the exact trees that would be uploaded into target/{model,dataset,space}/.

    Args:
        plans: the plans of every repo published to.
        target: a new or empty folder (`--dry-run`).

    Raises:
        HubtoolsError: `target` is not empty.
    """
    if target.exists() and any(target.iterdir()):
        raise HubtoolsError(f"--dry-run {target}: folder is not empty; pass a new or empty folder")
    for plan in plans:
        for path, local in plan.files.items():
            destination = target / plan.repo_type / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local, destination)


def publish(options: PublishOptions, echo: Callable[[str], None] = print) -> PublishResult:
    """Publish a run: plan and check every repo, then one retry-safe commit per repo (dataset, model, Space), then
    `verify` the model repo against the run.

    Nothing is uploaded before every check passed; an unchanged repo gets no commit; files of a repo that
    hubtools did not publish there are kept (unless `options.mirror`). Xet uploads are capped to
    `options.upload_streams` while it runs (`xet_upload_streams`).

    Args:
        options: what to publish and where.
        echo: where the plan, card gaps and results are printed.

    Returns:
        the plans, the commits made and `verify`'s report.

    Raises:
        HubtoolsError: bad input, found before anything is uploaded (see `plan_publish`).
        HubRefusedError: the Hub refused a token, repo, branch or commit.
        HubUnreachableError: the Hub did not answer after the retries; a re-run finishes the publish.
        VerifyError: the published model disagrees with the run (the commits are already on the Hub).
    """
    with xet_upload_streams(options.upload_streams):
        return _publish(options, echo)


def _publish(options: PublishOptions, echo: Callable[[str], None]) -> PublishResult:
    from hubtools.hubclient import hub_api, resolve_endpoint, resolve_token

    endpoint = resolve_endpoint(options.endpoint)
    api = hub_api(endpoint, resolve_token(options.token))
    with tempfile.TemporaryDirectory(prefix="hubtools-publish-") as work:
        plans = plan_publish(options, api, Path(work))
        for plan in plans:
            echo(format_plan(plan, endpoint, options.revision))
            if options.private and plan.exists and not plan.private:
                echo(f"  note: {plan.repo_id} already exists and is public; --private only applies to new repos (change it in the repo settings)")
        for gap in card_gaps_to_publish(options):
            echo(f"  card gap: {gap}")
        if options.dry_run is not None:
            write_dry_run(plans, options.dry_run)
            echo(f"Dry run: the trees that would be uploaded are in {options.dry_run}; nothing was uploaded.")
            return PublishResult(commits=[], plans=plans)
        commits = []
        for plan in plans:  # the dataset first: the model card then names the dataset commit it was scored on
            if plan.repo_type == "model" and commits and commits[0].plan.repo_type == "dataset":
                pin_dataset_revision(api, plan, commits[0], options, Path(work))
            commits.append(
                commit_plan(api, plan, revision=options.revision, create_pr=options.create_pr, private=options.private,
                            commit_message=commit_message(plan.repo_type, options))
            )
        give_space_the_token(api, options)
    for result in commits:
        done = f"commit {result.commit_id}" if result.commit_id else "unchanged, no commit"
        echo(f"{result.plan.repo_type:<8}{result.url}  {done}" + (f"  pull request: {result.pr_url}" if result.pr_url else ""))
    published = PublishResult(commits=commits, plans=plans)
    if options.verify and not options.create_pr:
        published.verification = verify_published(options, commits, endpoint, api.token)
        published.verified = True
        echo(published.verification.summary())
    return published


def verify_published(options: PublishOptions, commits: list[CommitResult], endpoint: str, token: str | None) -> VerifyReport:
    """`hubtools verify` on what was just committed; a failure says that the commits are already on the Hub.

    Args:
        options: the model repo, run directory and revision published.
        commits: the commits just made, named in a failure.
        endpoint: the Hub published to.
        token: the token to read the repo with.

    Returns:
        `verify`'s report.

    Raises:
        VerifyError: the published model or card disagrees with the run.
    """
    from hubtools.verify import VerifyError, verify_repo

    try:
        return verify_repo(options.repo_id, RunDir(options.run_dir), endpoint=endpoint, token=token, revision=options.revision)
    except VerifyError as error:
        done = ", ".join(f"{result.url} at {result.commit_id[:12]}" for result in commits if result.commit_id) or "no commit (nothing changed)"
        raise VerifyError(f"{error} (publish had already committed: {done}; after fixing, publish again: only what changed is uploaded)") from error
