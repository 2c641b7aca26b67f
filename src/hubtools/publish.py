"""`hubtools publish`: a run directory -> model repo (+ dataset repo, + demo Space) on the Hub.

Everything that can fail is checked before the first byte is uploaded: repo ids, the run directory,
the card, the token's rights, repo types and a scan for secrets. Each repo then gets one atomic
`create_commit` holding only the files whose content differs from the repo now (sha256 for LFS
files, git blob ids otherwise), plus deletions of files hubtools published there before (its manifest,
`hubtools.manifest`) that the run no longer has; every other file is kept. An unchanged run makes no commit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from hubtools.cards import BENCHMARK_FILE
from hubtools.errors import HubRefusedError, HubtoolsError
from hubtools.formatting import format_size
from hubtools.hubclient import with_retries
from hubtools.manifest import PreviousPublish, read_previous_publish, write_manifest
from hubtools.rundir import MODEL_FILE_PATTERNS, SPLITS, RunDir
from hubtools.safe_commit import commit_marker, commit_once
from hubtools.space import DEFAULT_HARDWARE, check_hardware

if TYPE_CHECKING:
    from hubtools.verify import VerifyReport

RepoType = Literal["model", "dataset", "space"]
Status = Literal["added", "changed", "deleted", "unchanged", "kept"]

# Never deleted by a publish, even a mirror, nor listed as kept: .gitattributes is the Hub's own; a benchmark
# declaration (eval.yaml) is the dataset owner's, and models scored on it point their .eval_results at it.
KEPT_REMOTE_FILES = {".gitattributes", BENCHMARK_FILE}

SECRET_FILE_PATTERNS = (".env", ".env.*", "*.pem", "id_rsa*", "id_ed25519*", ".netrc", ".git-credentials", "*token*.txt")
SECRET_CONTENT = re.compile(
    rb"hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    rb"|AKIA[0-9A-Z]{16}"  # AWS access keys
    rb"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    rb"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
SCAN_CHUNK = 1 << 22
REGULAR_FILE_MAX = 10 * 1024 * 1024  # larger files are LFS on the Hub: only their sha256 is compared

CARD_FILE = "README.md"
PUBLISH_MARK = "Published with `hubtools publish`."  # commit description: how a later publish knows its own commits

# hf_xet uploads large files as xorbs of up to 64 MB; its adaptive concurrency lets up to 64 be in flight, which
# held ~1 GB in the publishing process for a 1.4 GB model (benchmarks/publish_large.py). hubtools bounds it, through
# the variable: hf_xet takes a per-session XetConfig, but huggingface_hub opens its one process-wide XetSession itself
# (utils._xet.get_xet_session, from the environment) and takes no session or config per call.
XET_UPLOAD_STREAMS_ENV = "HF_XET_CLIENT_AC_MAX_UPLOAD_CONCURRENCY"
DEFAULT_UPLOAD_STREAMS = 2


# ----------------------------------------------------------------------------- urls


def repo_url(endpoint: str, repo_type: RepoType, repo_id: str) -> str:
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{endpoint}/{prefix}{repo_id}"


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class FileChange:
    path: str
    status: Status
    size: int | None  # local size (None when deleted or kept)
    remote_size: int | None  # size in the repo now (None when added)
    why_kept: str | None = None  # a remote file the run lacks and publish leaves alone: why


@dataclass
class RepoPlan:
    """One repo: the tree the run wants there, and how it differs from the repo now."""

    repo_id: str
    repo_type: RepoType
    files: dict[str, Path]  # path in repo -> local file
    exists: bool = False
    parent_commit: str | None = None
    changes: list[FileChange] = field(default_factory=list)
    private: bool | None = None
    space_hardware: str | None = None  # asked for when the Space is created
    digests: dict[str, FileDigest] = field(default_factory=dict)  # path in repo -> hashes from the one read
    mirror: bool = False  # delete every file the run lacks, not only those hubtools published

    def pending(self) -> list[FileChange]:
        return [change for change in self.changes if change.status not in ("unchanged", "kept")]

    def kept(self) -> list[FileChange]:
        return [change for change in self.changes if change.status == "kept"]

    def operations(self) -> list:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        operations: list = []
        for change in self.pending():
            if change.status == "deleted":
                operations.append(CommitOperationDelete(path_in_repo=change.path))
            else:
                operations.append(CommitOperationAdd(path_in_repo=change.path, path_or_fileobj=str(self.files[change.path])))
        return operations


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str
    git_blob_id: str | None  # hashed in the same read for files small enough to be regular (non-LFS) files


def _git_blob_id(path: Path) -> str:
    from huggingface_hub.utils.sha import git_hash

    return git_hash(path.read_bytes())


def _same_content(local: Path, digest: FileDigest, remote) -> bool:
    """Compare a local file with a repo sibling without downloading it."""
    if remote.size is not None and remote.size != digest.size:
        return False
    if remote.lfs is not None:
        return digest.sha256 == remote.lfs.sha256
    return remote.blob_id is not None and (digest.git_blob_id or _git_blob_id(local)) == remote.blob_id


def diff_tree(
    files: dict[str, Path], digests: dict[str, FileDigest], remote_siblings: list, previous: PreviousPublish, *, mirror: bool = False
) -> list[FileChange]:
    """File-by-file difference between the local tree (hashed by `scan_and_hash`) and the repo's files. A remote file
    the run lacks is deleted when `previous` (the repo's manifest) says hubtools published it, or with `mirror`;
    otherwise it is kept, with the reason."""
    remote = {sibling.rfilename: sibling for sibling in remote_siblings}
    changes = []
    for path, local in sorted(files.items()):
        size = digests[path].size
        if path not in remote:
            changes.append(FileChange(path, "added", size, None))
        else:
            status: Status = "unchanged" if _same_content(local, digests[path], remote[path]) else "changed"
            changes.append(FileChange(path, status, size, remote[path].size))
    for path in sorted(set(remote) - set(files) - KEPT_REMOTE_FILES):
        why_kept = None if mirror else previous.why_kept(path)
        changes.append(FileChange(path, "kept" if why_kept else "deleted", None, remote[path].size, why_kept))
    return changes


def format_plan(plan: RepoPlan, endpoint: str, revision: str) -> str:
    where = f"{revision} at {plan.parent_commit[:12]}" if plan.parent_commit else "new repo"
    lines = [f"{plan.repo_type} {repo_url(endpoint, plan.repo_type, plan.repo_id)} ({where}):"]
    marks = {"added": "+", "changed": "~", "deleted": "-"}
    for change in plan.pending():
        was = f" (was {format_size(change.remote_size)})" if change.status == "changed" else ""
        shown = change.remote_size if change.status == "deleted" else change.size
        lines.append(f"  {marks[change.status]} {change.path}  {format_size(shown)}{was}")
    lines.extend(f"  kept: {change.path}, {change.why_kept}" for change in plan.kept())
    counts = {status: sum(1 for change in plan.changes if change.status == status) for status in ("added", "changed", "deleted", "unchanged", "kept")}
    lines.append("  " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- checks


def check_repo_id(repo_id: str, option: str, repo_type: RepoType) -> str:
    """ORG/NAME, valid by the Hub's rules, and not prefixed with another repo type."""
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


def scan_and_hash(files: dict[str, Path], token: str | None, space_token: str | None = None) -> dict[str, FileDigest]:
    """Refuse files that look like credentials (by name, token patterns, or holding a token in use), and hash
    each file in the same single read: sha256, and the git blob id for files that can be regular files."""
    tokens = [secret.encode() for secret in (token, space_token) if secret]
    digests = {}
    for path, local in files.items():
        name = Path(path).name
        if any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_FILE_PATTERNS):
            raise HubtoolsError(f"{local}: refusing to upload a file that looks like a secret ({name}); remove it from the run directory")
        size = local.stat().st_size
        sha256 = hashlib.sha256()
        git_blob = hashlib.sha1(b"blob %d\0" % size) if size <= REGULAR_FILE_MAX else None
        overlap = b""
        with local.open("rb") as handle:
            for chunk in iter(lambda: handle.read(SCAN_CHUNK), b""):
                window = overlap + chunk
                if SECRET_CONTENT.search(window) or any(secret in window for secret in tokens):
                    raise HubtoolsError(
                        f"{local}: contains something that looks like a token or private key; remove it before publishing"
                    )
                overlap = window[-128:]
                sha256.update(chunk)
                if git_blob is not None:
                    git_blob.update(chunk)
        digests[path] = FileDigest(size, sha256.hexdigest(), git_blob.hexdigest() if git_blob is not None else None)
    return digests


def check_can_write(api, namespaces: set[str]) -> None:
    """The token is known, is not read-only, and its user may write to every namespace published to."""
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


def check_space_sdk(api, space_repo_id: str) -> None:
    """An existing Space must be a Gradio Space: the demo cannot replace a docker or static one."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = with_retries(lambda: api.space_info(space_repo_id), f"reading Space {space_repo_id}", api.endpoint)
    except RepositoryNotFoundError:
        return
    if info.sdk not in (None, "gradio"):
        raise HubtoolsError(f"--space {space_repo_id}: exists as a {info.sdk} Space; the demo needs a gradio Space, pick another name")


def check_model_card(card_path: Path, api, *, dataset_repo_id: str | None, space_repo_id: str | None) -> None:
    """The card parses, has model-index results, links the dataset and Space, and the Hub accepts its metadata."""
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
    check `verify` makes after the upload, made before it where only the card can be wrong."""
    from hubtools.verify import card_metric_checks

    test = {key: value for key, value in run.read_json(run.metrics).get("test", {}).items() if isinstance(value, (int, float))}
    wrong = next((check for check in card_metric_checks(card_path, test) if not check.ok), None)
    if wrong is not None:
        raise HubtoolsError(
            f"{card_path}: says {wrong.name}={wrong.card_value} but {run.metrics} says {wrong.recomputed:.4f}; "
            "re-render it (`hubtools card --overwrite` or publish --render-card); nothing was uploaded"
        )


def check_run(run: RunDir) -> None:
    if not run.root.is_dir():
        raise HubtoolsError(f"{run.root}: run directory not found; pass --run DIR (a directory written by `hubtools train`)")
    for required, hint in ((run.model / "config.json", "hubtools train"), (run.metrics, "hubtools train")):
        if not required.is_file():
            raise HubtoolsError(f"{required}: missing from run directory {run.root}; run `{hint}` first")
    if not list(run.model.glob("*.safetensors")):
        raise HubtoolsError(f"{run.model}: no *.safetensors weights; only safetensors are published (save with safe_serialization)")


# ----------------------------------------------------------------------------- the trees


def _files_under(folder: Path, prefix: str = "") -> dict[str, Path]:
    return {f"{prefix}{path.relative_to(folder).as_posix()}": path for path in sorted(folder.rglob("*")) if path.is_file()}


def model_tree(run: RunDir) -> dict[str, Path]:
    """What goes in the model repo: weights, config, tokenizer, onnx/ (`hubtools export`), card + assets + .eval_results, TensorBoard."""
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
    """The rendered dataset repo: ClassLabel Parquet splits, card, its image and dataset_stats.json."""
    return _files_under(dataset_dir)


# ----------------------------------------------------------------------------- commits


def _card_blob(api, plan: RepoPlan, commit_id: str) -> str | None:
    info = api.repo_info(plan.repo_id, repo_type=plan.repo_type, revision=commit_id, files_metadata=True)
    return next((sibling.blob_id for sibling in info.siblings or [] if sibling.rfilename == CARD_FILE), None)


def check_card_not_edited_on_hub(api, plan: RepoPlan) -> None:
    """A card changed on the Hub by a commit hubtools did not make is never replaced silently.

    Since the last commit marked PUBLISH_MARK, README.md must be unchanged; a repo hubtools never published
    to counts as edited."""
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


def read_remote(api, plan: RepoPlan, revision: str) -> None:
    """Fill in whether the repo exists, its head commit on `revision` (or main) and the diff against it."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    def fetch():
        try:
            return api.repo_info(plan.repo_id, repo_type=plan.repo_type, revision=revision, files_metadata=True)
        except RevisionNotFoundError:  # a new branch starts from main
            return api.repo_info(plan.repo_id, repo_type=plan.repo_type, files_metadata=True)

    try:
        info = with_retries(fetch, f"reading {plan.repo_type} repo {plan.repo_id}", api.endpoint)
    except RepositoryNotFoundError:
        plan.changes = diff_tree(plan.files, plan.digests, [], PreviousPublish(frozenset()))
        return
    plan.exists, plan.parent_commit, plan.private = True, info.sha, bool(info.private)
    siblings = info.siblings or []
    previous = read_previous_publish(api, plan.repo_id, plan.repo_type, info.sha, {sibling.rfilename for sibling in siblings})
    plan.changes = diff_tree(plan.files, plan.digests, siblings, previous, mirror=plan.mirror)


@dataclass
class CommitResult:
    plan: RepoPlan
    url: str
    commit_id: str | None = None  # None: nothing changed, no commit
    pr_url: str | None = None


def commit_plan(api, plan: RepoPlan, *, revision: str, create_pr: bool, private: bool, commit_message: str) -> CommitResult:
    """One atomic commit with the pending operations; none at all when nothing changed."""
    from huggingface_hub.errors import HfHubHTTPError

    url = repo_url(api.endpoint, plan.repo_type, plan.repo_id)
    if not plan.pending():
        return CommitResult(plan, url)
    describe = f"uploading to {plan.repo_type} repo {plan.repo_id} on {api.endpoint}"
    try:
        return _create_repo_and_commit(api, plan, url, describe, revision=revision, create_pr=create_pr, private=private, commit_message=commit_message)
    except HfHubHTTPError as error:
        server_says = (error.server_message or str(error)).splitlines()[0]
        raise HubRefusedError(f"{describe}: the Hub refused ({error.response.status_code}: {server_says})") from error


def _create_repo_and_commit(
    api, plan: RepoPlan, url: str, describe: str, *, revision: str, create_pr: bool, private: bool, commit_message: str
) -> CommitResult:
    if not plan.exists:
        with_retries(
            lambda: api.create_repo(
                plan.repo_id, repo_type=plan.repo_type, private=private, exist_ok=True,
                space_sdk="gradio" if plan.repo_type == "space" else None, space_hardware=plan.space_hardware,
            ),
            describe,
            api.endpoint,
        )
    if revision != "main" and not create_pr:
        with_retries(lambda: api.create_branch(plan.repo_id, repo_type=plan.repo_type, branch=revision, exist_ok=True), describe, api.endpoint)
    try:
        landed = commit_once(
            api,
            plan.repo_id,
            plan.operations(),
            repo_type=plan.repo_type,
            revision=revision,
            commit_message=commit_message,
            description=PUBLISH_MARK,
            marker=plan_marker(plan, revision, create_pr),
            parent_commit=plan.parent_commit if plan.exists and not create_pr else None,
            create_pr=create_pr,
            describe=describe,
        )
    except HubtoolsError as error:
        state = f"still at {plan.parent_commit[:12]}" if plan.parent_commit else "without this commit"
        raise type(error)(f"{error}; {plan.repo_id} is {state}; run the same command again to finish") from error  # keeps the family (exit status)
    return CommitResult(plan, url, commit_id=landed.oid, pr_url=landed.pr_url)


def plan_marker(plan: RepoPlan, revision: str, create_pr: bool) -> str:
    """The same for the same planned commit, in this run or a re-run of the command (see `hubtools.safe_commit`)."""
    changes = [(change.path, change.status, plan.digests[change.path].sha256 if change.path in plan.files else None) for change in plan.pending()]
    return commit_marker(plan.repo_type, plan.repo_id, revision, create_pr, plan.parent_commit, changes)


# ----------------------------------------------------------------------------- the command


@dataclass
class PublishOptions:
    repo_id: str
    run_dir: Path
    dataset_repo_id: str | None = None
    space_repo_id: str | None = None
    private: bool = False
    create_pr: bool = False
    revision: str = "main"
    commit_message: str | None = None
    dry_run: Path | None = None
    endpoint: str | None = None
    token: str | None = None
    render_card: bool = False
    verify: bool = True
    space_hardware: str = DEFAULT_HARDWARE
    space_token: str | None = None  # read-only token given to a private model's Space as its HF_TOKEN secret
    replace_edited_cards: bool = False
    mirror: bool = False  # delete every file of the repos the run lacks, not only those hubtools published there
    upload_streams: int | None = None  # xorbs in flight per Xet upload; None: HF_XET_CLIENT_AC_MAX_UPLOAD_CONCURRENCY, else 2


@contextmanager
def xet_upload_streams(streams: int | None) -> Iterator[int]:
    """Cap hf_xet's upload streams while the block runs (`streams`, else the variable already set, else 2), yielding
    the cap; the variable is restored afterwards, so nothing is left set for the rest of the process. hf_xet reads it
    when huggingface_hub opens the process's Xet session (its first Xet upload or download) inside the block: a
    process that already used Xet keeps the cap it had."""
    if streams is None:
        value = os.environ.get(XET_UPLOAD_STREAMS_ENV, "").strip() or str(DEFAULT_UPLOAD_STREAMS)
        if not value.isdigit() or int(value) < 1:
            raise HubtoolsError(f"{XET_UPLOAD_STREAMS_ENV}={value!r}: not a number of upload streams; set it to 1 or more, or unset it")
        streams = int(value)
    if streams < 1:
        raise HubtoolsError(f"--upload-streams {streams}: at least 1 upload stream is needed (hubtools' default is {DEFAULT_UPLOAD_STREAMS})")
    before = os.environ.get(XET_UPLOAD_STREAMS_ENV)
    os.environ[XET_UPLOAD_STREAMS_ENV] = str(streams)
    try:
        yield streams
    finally:
        if before is None:
            os.environ.pop(XET_UPLOAD_STREAMS_ENV, None)
        else:
            os.environ[XET_UPLOAD_STREAMS_ENV] = before


@dataclass
class PublishResult:
    commits: list[CommitResult]
    plans: list[RepoPlan]
    verified: bool = False
    verification: VerifyReport | None = None


def _render_cards(run: RunDir, options: PublishOptions, api, work_dir: Path) -> Path | None:
    """Write the model card into RUN/card when missing (or asked), and the dataset repo's tree into work_dir."""
    from hubtools import cards

    endpoint = api.endpoint
    if options.render_card or not (run.card / "README.md").is_file():
        cards.write_model_card(
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
    return cards.write_dataset_repo(
        run.root, work_dir / "dataset", dataset_repo_id=options.dataset_repo_id, model_repo_id=options.repo_id, endpoint=endpoint
    ).parent


def _space_files(run: RunDir, options: PublishOptions, endpoint: str, work_dir: Path) -> dict[str, Path]:
    from hubtools.space import render_space, spec_for_run

    spec = spec_for_run(
        run, options.repo_id, options.space_repo_id or "", endpoint=endpoint, dataset_repo_id=options.dataset_repo_id,
        hardware=options.space_hardware,
    )
    return _files_under(render_space(spec, work_dir / "space"))


def check_space_token(options: PublishOptions, endpoint: str) -> None:
    """A private model's Space needs a read-only token to load it; refuse before uploading when there is none."""
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


def give_space_the_token(api, options: PublishOptions) -> None:
    """The private model's Space reads it with HF_TOKEN, stored as a Space secret (never in a file)."""
    if options.private and options.space_repo_id and options.space_token:
        with_retries(
            lambda: api.add_space_secret(options.space_repo_id, "HF_TOKEN", options.space_token, description="read-only token for the private model"),
            f"adding the HF_TOKEN secret to Space {options.space_repo_id}",
            api.endpoint,
        )


def plan_publish(options: PublishOptions, api, work_dir: Path) -> list[RepoPlan]:
    """Every check and every diff, before anything is uploaded. Order: dataset, model, Space."""
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

    dataset_card_dir = _render_cards(run, options, api, work_dir)
    check_model_card(run.card / "README.md", api, dataset_repo_id=options.dataset_repo_id, space_repo_id=options.space_repo_id)
    check_card_matches_run(run.card / "README.md", run)
    plans = []
    if dataset_card_dir is not None:
        plans.append(RepoPlan(options.dataset_repo_id, "dataset", dataset_tree(dataset_card_dir)))
    plans.append(RepoPlan(options.repo_id, "model", model_tree(run)))
    if options.space_repo_id:
        plans.append(RepoPlan(options.space_repo_id, "space", _space_files(run, options, api.endpoint, work_dir), space_hardware=options.space_hardware))
    for plan in plans:
        plan.mirror = options.mirror
        plan.files = write_manifest(plan.files, work_dir / "manifests" / plan.repo_type)
        plan.digests = scan_and_hash(plan.files, api.token, options.space_token)
        read_remote(api, plan, options.revision)
        if plan.exists and not options.replace_edited_cards:
            check_card_not_edited_on_hub(api, plan)
    return plans


def pin_dataset_revision(api, model_plan: RepoPlan, dataset_commit: CommitResult, run: RunDir, options: PublishOptions) -> None:
    """Write the dataset repo's commit into the model card's metadata (model-index, .eval_results), hash the
    rewritten files again and re-diff the model repo."""
    from hubtools.cards import set_dataset_revision

    dataset_revision = dataset_commit.commit_id or dataset_commit.plan.parent_commit
    if dataset_revision and not dataset_commit.pr_url:
        rewritten = set(set_dataset_revision(run.card, dataset_revision))
        model_plan.digests |= scan_and_hash(
            {path: local for path, local in model_plan.files.items() if local in rewritten}, api.token, options.space_token
        )
        read_remote(api, model_plan, options.revision)


def commit_message(repo_type: RepoType, options: PublishOptions) -> str:
    """Each repo's own commit title: `--commit-message` (or the run's name) is the model's; the dataset and the
    Space say what they hold, so a model's message never lands in their history."""
    if repo_type == "dataset":
        return f"Publish the dataset {options.repo_id} is trained and evaluated on"
    if repo_type == "space":
        return f"Publish the demo Space of {options.repo_id}"
    return options.commit_message or f"Publish {RunDir(options.run_dir).root.name} with hubtools"


def write_dry_run(plans: list[RepoPlan], target: Path) -> None:
    """Copy the exact trees that would be uploaded into target/{model,dataset,space}/."""
    if target.exists() and any(target.iterdir()):
        raise HubtoolsError(f"--dry-run {target}: folder is not empty; pass a new or empty folder")
    for plan in plans:
        for path, local in plan.files.items():
            destination = target / plan.repo_type / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local, destination)


def card_gaps_to_publish(options: PublishOptions) -> list[str]:
    """Prose the published cards lack (model card, and dataset card when the dataset is published)."""
    from hubtools.cards import card_gaps, dataset_card_gaps

    gaps = [f"model card: {gap}" for gap in card_gaps(options.run_dir)]
    if options.dataset_repo_id:
        gaps += [f"dataset card: {gap}" for gap in dataset_card_gaps(options.run_dir)]
    return gaps


def publish(options: PublishOptions, echo: Callable[[str], None] = print) -> PublishResult:
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
                pin_dataset_revision(api, plan, commits[0], RunDir(options.run_dir), options)
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
    """`hubtools verify` on what was just committed; a failure says that the commits are already on the Hub."""
    from hubtools.verify import VerifyError, verify_repo

    try:
        return verify_repo(options.repo_id, RunDir(options.run_dir), endpoint=endpoint, token=token, revision=options.revision)
    except VerifyError as error:
        done = ", ".join(f"{result.url} at {result.commit_id[:12]}" for result in commits if result.commit_id) or "no commit (nothing changed)"
        raise VerifyError(f"{error} (publish had already committed: {done}; after fixing, publish again: only what changed is uploaded)") from error
