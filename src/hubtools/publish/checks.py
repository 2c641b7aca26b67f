"""Checks made before the first byte is uploaded: repo ids, the run directory, the token's rights, the Space's
SDK and token, the card (parses, matches the run, not edited on the Hub since hubtools published it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hubtools.errors import HubRefusedError, HubtoolsError
from hubtools.hubclient import with_retries
from hubtools.publish.options import PublishOptions
from hubtools.publish.plan import PUBLISH_MARK, RepoPlan, RepoType, repo_url
from hubtools.rundir import RunDir

if TYPE_CHECKING:
    from huggingface_hub import HfApi


CARD_FILE = "README.md"


def check_repo_id(repo_id: str, option: str, repo_type: RepoType) -> str:
    """ORG/NAME, valid by the Hub's rules, and not prefixed with another repo type.

    Args:
        repo_id: the id as the user gave it.
        option: the command-line option it came from (`--repo`, `--dataset-repo`, `--space`), named in errors.
        repo_type: the kind of repo the option takes.

    Returns:
        `repo_id`, unchanged.

    Raises:
        HubtoolsError: the id names another repo type, is not ORG/NAME, or breaks the Hub's rules.
    """
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    for prefix, other_type in (("datasets/", "dataset"), ("spaces/", "space"), ("models/", "model")):
        if repo_id.startswith(prefix) and other_type != repo_type:
            raise HubtoolsError(f"{option} {repo_id}: names a {other_type} repo but {option} takes a {repo_type} repo; give ORG/NAME")
    if repo_id.count("/") != 1:
        raise HubtoolsError(f"{option} {repo_id!r}: expected ORG/NAME (e.g. ADS509/BERTweet-large-self-labeling)")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise HubtoolsError(f"{option} {repo_id!r}: invalid repo id ({str(error).splitlines()[0]})") from error
    return repo_id


def check_can_write(api: HfApi, namespaces: set[str]) -> None:
    """The token is known, is not read-only, and its user may write to every namespace published to.

    Args:
        api: the client of the Hub published to, with the token.
        namespaces: the users and orgs of every repo published to.

    Raises:
        HubRefusedError: the Hub rejects the token.
        HubtoolsError: the token is read-only, or its user is not a member (or only a reader) of a namespace.
    """
    from huggingface_hub.errors import HfHubHTTPError

    try:
        me = with_retries(api.whoami, "checking the token", api.endpoint)
    except HfHubHTTPError as error:
        raise HubRefusedError(f"the token was rejected by {api.endpoint} ({error.response.status_code}); log in again or pass --token") from error
    user = me.get("name", "?")
    role = (me.get("auth") or {}).get("accessToken", {}).get("role")
    if role == "read":
        raise HubtoolsError(f"the token for {user} is read-only; pass a write token (--token or HF_TOKEN)")
    if role == "fineGrained":  # its permissions are per repo: the Hub answers at commit time
        return
    org_roles = {org.get("name"): org.get("roleInOrg") for org in me.get("orgs") or []}
    for namespace in sorted(namespaces - {user}):
        if namespace not in org_roles:
            raise HubtoolsError(f"{user} is not a member of {namespace}; publish under {user}/ or use a token of a member of {namespace}")
        if org_roles[namespace] == "read":
            raise HubtoolsError(f"{user} has the read role in {namespace}; ask an admin of {namespace} for write access")


def check_space_sdk(api: HfApi, space_repo_id: str) -> None:
    """An existing Space must be a Gradio Space: the demo cannot replace a docker or static one.

    Args:
        api: the client of the Hub published to.
        space_repo_id: the Space published to (absent is fine: publish creates it).

    Raises:
        HubtoolsError: the Space exists with another SDK.
    """
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = with_retries(lambda: api.space_info(space_repo_id), f"reading Space {space_repo_id}", api.endpoint)
    except RepositoryNotFoundError:
        return
    if info.sdk not in (None, "gradio"):
        raise HubtoolsError(f"--space {space_repo_id}: exists as a {info.sdk} Space; the demo needs a gradio Space, pick another name")


def check_model_card(card_path: Path, api: HfApi, *, dataset_repo_id: str | None, space_repo_id: str | None) -> None:
    """The card parses, has model-index results, links the dataset and Space, and the Hub accepts its metadata.

    Args:
        card_path: RUN/card/README.md.
        api: the client of the Hub whose metadata rules the card must pass (its endpoint, not the global one).
        dataset_repo_id: the dataset repo the card must list under `datasets:`, if one is published.
        space_repo_id: the Space the card must link, if one is published.

    Raises:
        HubtoolsError: the card's metadata does not parse, has no results, misses the dataset or Space, or the Hub
            rejects it.
    """
    from huggingface_hub import ModelCard
    from huggingface_hub.errors import HfHubHTTPError

    from hubtools.hubclient import validate_card_metadata

    try:
        card = ModelCard.load(card_path)
    except Exception as error:  # huggingface_hub raises ValueError or yaml errors for broken front matter
        raise HubtoolsError(f"{card_path}: the card's metadata does not parse ({error}); re-render it with `hubtools card`") from error
    if not card.data.eval_results:
        raise HubtoolsError(f"{card_path}: the card has no model-index results; run `hubtools evaluate` then `hubtools card`")
    if dataset_repo_id and dataset_repo_id not in (card.data.datasets or []):
        raise HubtoolsError(f"{card_path}: `datasets:` does not list {dataset_repo_id}; pass --render-card to render it for these repos")
    if space_repo_id and space_repo_id not in card.text:
        raise HubtoolsError(f"{card_path}: the card does not link the Space {space_repo_id}; pass --render-card to render it for these repos")
    try:
        validate_card_metadata(api, card)
    except (ValueError, HfHubHTTPError) as error:
        raise HubtoolsError(f"{card_path}: the Hub rejects the card's metadata: {str(error).splitlines()[-1]}") from error


def check_card_matches_run(card_path: Path, run: RunDir) -> None:
    """The card's model-index values on the test split are the run's metrics.json (to the card's rounding): the
    check `verify` makes after the upload, made before it where only the card can be wrong.

    Args:
        card_path: RUN/card/README.md.
        run: the run directory whose metrics.json the card must state.

    Raises:
        HubtoolsError: a value of the card differs from metrics.json.
    """
    from hubtools.verify import card_metric_checks

    test = {key: value for key, value in run.read_json(run.metrics).get("test", {}).items() if isinstance(value, (int, float))}
    wrong = next((check for check in card_metric_checks(card_path, test) if not check.ok), None)
    if wrong is not None:
        raise HubtoolsError(
            f"{card_path}: says {wrong.name}={wrong.card_value} but {run.metrics} says {wrong.recomputed:.4f}; "
            "re-render it (`hubtools card --overwrite` or publish --render-card); nothing was uploaded"
        )


def check_run(run: RunDir) -> None:
    """The run directory holds a trained model (config.json, safetensors weights) and its metrics.json.

    Args:
        run: the run directory.

    Raises:
        HubtoolsError: the folder, config.json, metrics.json or the safetensors weights are missing.
    """
    if not run.root.is_dir():
        raise HubtoolsError(f"{run.root}: run directory not found; pass --run DIR (a directory written by `hubtools train`)")
    for required, hint in ((run.model / "config.json", "hubtools train"), (run.metrics, "hubtools train")):
        if not required.is_file():
            raise HubtoolsError(f"{required}: missing from run directory {run.root}; run `{hint}` first")
    if not list(run.model.glob("*.safetensors")):
        raise HubtoolsError(f"{run.model}: no *.safetensors weights; only safetensors are published (save with safe_serialization)")


def _card_blob(api: HfApi, plan: RepoPlan, commit_id: str) -> str | None:
    info = api.repo_info(plan.repo_id, repo_type=plan.repo_type, revision=commit_id, files_metadata=True)
    return next((sibling.blob_id for sibling in info.siblings or [] if sibling.rfilename == CARD_FILE), None)


def check_card_not_edited_on_hub(api: HfApi, plan: RepoPlan) -> None:
    """A card changed on the Hub by a commit hubtools did not make is never replaced silently.

    Since the last commit marked PUBLISH_MARK, README.md must be unchanged; a repo hubtools never published
    to counts as edited.

    Args:
        api: the client of the Hub published to.
        plan: the repo's plan, read from the remote (`read_remote`).

    Raises:
        HubtoolsError: the plan would replace a README.md edited on the Hub since hubtools published it.
    """
    if not any(change.path == CARD_FILE and change.status == "changed" for change in plan.pending()):
        return
    history = with_retries(
        lambda: api.list_repo_commits(plan.repo_id, repo_type=plan.repo_type, revision=plan.parent_commit),
        f"reading the history of {plan.repo_type} repo {plan.repo_id}",
        api.endpoint,
    )
    ours = next((commit for commit in history if PUBLISH_MARK in (commit.message or "")), None)
    if ours is not None and (ours.commit_id == history[0].commit_id or _card_blob(api, plan, ours.commit_id) == _card_blob(api, plan, history[0].commit_id)):
        return
    since = f"since hubtools published it in {ours.commit_id[:12]}" if ours else "and hubtools never published it"
    raise HubtoolsError(
        f"{repo_url(api.endpoint, plan.repo_type, plan.repo_id)}: {CARD_FILE} was edited on the Hub {since}; "
        "copy the edits into your card or card YAML, or pass --replace-edited-cards to overwrite them"
    )


def check_space_token(options: PublishOptions, endpoint: str) -> None:
    """A private model's Space needs a read-only token to load it; refuse before uploading when there is none.

    Args:
        options: whether the model is private, its Space and the Space's token.
        endpoint: the Hub that must accept the Space's token.

    Raises:
        HubtoolsError: a private model's Space has no token, or a token whose role is not read.
        HubRefusedError: the Hub rejects the Space's token.
    """
    from huggingface_hub.errors import HfHubHTTPError

    from hubtools.hubclient import hub_api

    if not (options.private and options.space_repo_id):
        return
    if not options.space_token:
        raise HubtoolsError(
            f"--private: the Space {options.space_repo_id} needs a read-only token to load the private model; "
            "pass --space-token (or set HUBTOOLS_SPACE_TOKEN) with a read token, or publish with --no-space"
        )
    try:
        role = ((hub_api(endpoint, options.space_token).whoami().get("auth") or {}).get("accessToken") or {}).get("role")
    except HfHubHTTPError as error:
        raise HubRefusedError(f"--space-token: rejected by {endpoint} ({error.response.status_code}); pass a valid read token") from error
    if role != "read":
        raise HubtoolsError(f"--space-token: a {role or 'unknown'}-role token; the Space gets it as a secret, so pass a read-only token")


def card_gaps_to_publish(options: PublishOptions) -> list[str]:
    """Prose the published cards lack (model card, and dataset card when the dataset is published).

    Args:
        options: the run directory and whether a dataset repo is published.

    Returns:
        one line per gap, prefixed with the card it is in.
    """
    from hubtools.card.prose import card_gaps, dataset_card_gaps

    gaps = [f"model card: {gap}" for gap in card_gaps(options.run_dir)]
    if options.dataset_repo_id:
        gaps += [f"dataset card: {gap}" for gap in dataset_card_gaps(options.run_dir)]
    return gaps
