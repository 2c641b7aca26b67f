"""`hubtools reproduce`: re-derive every number a published card claims, from what `publish` put in the repo.

The model repo holds, next to the weights and README.md, `training_config.yaml` (the run's config, local
paths cut to file names) and `reproduce.json` (`hubtools.provenance`, written with the card): hubtools and library versions, Python, the command line, the seeds, the base model and the
Hub commit it was loaded at, and the dataset repo. The card's model-index pins the dataset repo's commit.

`reproduce` downloads the repo at one commit, the dataset at its pinned commit and (unless
`evaluate_only`) the base model at its recorded commit, retrains with the same config on the published
splits, scores the test rows the card was scored on, and checks each claim (`hubtools.claims`).
Whatever the repo lacks for that is listed as missing; nothing is guessed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from hubtools.claims import (
    ROUNDING, Claim, ClaimCheck, Outcome, check_claims, claims_table, default_out_dir, escape_markdown, model_index_claims, table_claims,
)
from hubtools.provenance import PROVENANCE_FILE
from hubtools.rundir import MODEL_FILE_PATTERNS, SPLITS

CARD_FILE = "README.md"
Mode = Literal["evaluate-only", "retrain"]
Verdict = Literal["reproduced", "not reproduced", "cannot reproduce"]


# ---- the report ---------------------------------------------------------------------------------------


@dataclass
class Reproduction:
    repo_id: str
    commit: str
    mode: Mode
    missing: list[str] = field(default_factory=list)  # what the repo lacks to reproduce, one sentence each
    checks: list[ClaimCheck] = field(default_factory=list)
    rows: int | None = None
    notes: list[str] = field(default_factory=list)  # differences of environment (library versions) between then and now
    clamped: list[str] = field(default_factory=list)  # settings of the published config lowered to this machine's
    report: Path | None = None  # reproduction.md, once written

    @property
    def verdict(self) -> Verdict:
        if self.missing:
            return "cannot reproduce"
        return "reproduced" if all(check.status == "reproduced" for check in self.checks) else "not reproduced"

    @property
    def exact(self) -> bool | None:
        """Whether every new number equals the card's to its 4 decimals (retraining: the run was deterministic)."""
        values = [check for check in self.checks if check.value is not None]
        return all(abs(check.difference) <= ROUNDING for check in values) if values else None

    def summary(self) -> str:
        where = f"{self.repo_id}@{self.commit[:12]}"
        if self.missing:
            return f"reproduce {where}: cannot reproduce: {'; '.join(self.missing)}"
        failed = [check for check in self.checks if check.status != "reproduced"]
        how = "re-evaluating the published weights" if self.mode == "evaluate-only" else "retraining"
        if not failed:
            exact = " (every number exactly equal)" if self.exact else ""
            return f"reproduce {where}: all {len(self.checks)} claims reproduced by {how} on {self.rows} test rows{exact}"
        first = failed[0]
        return (
            f"reproduce {where}: {len(failed)} of {len(self.checks)} claims not reproduced by {how} on {self.rows} test rows; "
            f"first: {first.claim.where} {first.claim.metric}: {first.reason}"
        )

    def outcome(self) -> Outcome:
        document = {
            "repo_id": self.repo_id, "commit": self.commit, "mode": self.mode, "verdict": self.verdict, "rows": self.rows,
            "exact": self.exact, "missing": self.missing, "notes": self.notes, "clamped": self.clamped,
            "claims": [check.as_dict() for check in self.checks],
        }
        lines = [
            f"# Reproduction of {escape_markdown(self.repo_id)}", "", f"Commit `{self.commit}`, mode `{self.mode}`: **{self.verdict}**.", "",
            escape_markdown(self.summary()), "",
        ]
        for heading, items in (("What the repo lacks", self.missing), ("Environment differences", self.notes), ("Adjusted to this machine", self.clamped)):
            if items:
                lines += [f"## {heading}", "", *[f"- {escape_markdown(item)}" for item in items], ""]
        if self.checks:
            lines += ["## Claims", "", claims_table(self.checks), ""]
        return Outcome(document, "\n".join(lines))


# ---- the command ----------------------------------------------------------------------------------------


@dataclass
class ReproduceOptions:
    repo_id: str
    out_dir: Path | None = None  # default: hubtools' cache (`claims.default_out_dir`)
    revision: str | None = None
    evaluate_only: bool = False
    endpoint: str | None = None
    token: str | None = None


@dataclass
class Published:
    """The model repo at one commit: its card and what `publish` stored for reproducing."""

    folder: Path
    commit: str
    card: Any
    label_names: list[str]
    config: Any | None  # RunConfig from training_config.yaml, clamped to this machine
    clamped: list[str]  # what the clamping changed
    provenance: dict[str, Any] | None
    claims: list[Claim]


def download_published(api, repo_id: str, commit: str, out_dir: Path) -> Published:
    """The card, config.json and what `publish` stored for reproducing (never weights or code: `untrusted.download_model`)."""
    from huggingface_hub import ModelCard

    from hubtools.card.context import TRAINING_CONFIG_FILE
    from hubtools.config import config_from_dict
    from hubtools.hubclient import with_retries
    from hubtools.untrusted import clamp_to_machine

    patterns = [CARD_FILE, TRAINING_CONFIG_FILE, PROVENANCE_FILE, "config.json"]
    folder = Path(
        with_retries(
            lambda: api.snapshot_download(repo_id, revision=commit, local_dir=out_dir / "published", allow_patterns=patterns),
            f"downloading model repo {repo_id}",
            api.endpoint,
        )
    )
    card = ModelCard.load(folder / CARD_FILE) if (folder / CARD_FILE).is_file() else None
    model_config = _read_json(folder / "config.json") or {}
    id2label = model_config.get("id2label") or {}
    label_names = [str(id2label[key]) for key in sorted(id2label, key=int)]
    config_path = folder / TRAINING_CONFIG_FILE
    config, clamped = None, []
    if config_path.is_file():
        config, clamped = clamp_to_machine(config_from_dict(yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}, source=str(config_path)))
    claims = (model_index_claims(card) + table_claims(card.text, label_names)) if card else []
    return Published(folder, commit, card, label_names, config, clamped, _read_json(folder / PROVENANCE_FILE), claims)


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def scored_dataset(claims: list[Claim]) -> tuple[str | None, str | None]:
    """The dataset repo and commit the card's model-index results on the test split name."""
    for claim in claims:
        if claim.split == "test" and claim.dataset:
            return claim.dataset, claim.dataset_revision
    return None, None


def missing_for(api, published: Published, evaluate_only: bool) -> list[str]:
    """Everything the repo lacks to reproduce its card, one sentence each (empty: it can be attempted)."""
    from hubtools.card.context import TRAINING_CONFIG_FILE
    from hubtools.untrusted import is_hub_repo_id

    missing = []
    if published.card is None:
        return [f"{CARD_FILE} is missing from the repo, so there are no claims to check"]
    if not published.claims:
        missing.append(f"{CARD_FILE} has no model-index results and no hubtools results tables")
    if not published.label_names:
        missing.append("config.json has no id2label, so the card's labels cannot be matched to the model's outputs")
    if published.config is None:
        missing.append(f"{TRAINING_CONFIG_FILE} is missing: the max length and the test rows the card was scored on are unknown")
    dataset, revision = scored_dataset(published.claims)
    if not dataset or dataset == "custom":
        missing.append("the model-index names no dataset repo (dataset type `custom`): the test split it was scored on is not on the Hub")
    elif not is_hub_repo_id(dataset):
        missing.append(f"the model-index's dataset type {dataset[:80]!r} is not a Hub dataset id: only Hub datasets are downloaded")
    elif not revision:
        missing.append(f"the model-index does not pin a revision of dataset {dataset}, so the exact test split is unknown")
    else:
        missing += readable("dataset", dataset, revision, api)
    if evaluate_only:
        return missing
    if published.config is not None and published.config.distillation.teacher:
        missing.append("the model was distilled from a teacher that is not published (distillation.teacher): retraining cannot reproduce it; check its weights with --evaluate-only")
    if published.provenance is None:
        missing.append(f"{PROVENANCE_FILE} is missing (published before hubtools stored it): the base model's revision is unknown")
        return missing
    base = published.provenance.get("base_model") or {}
    if not base.get("id"):
        missing.append(f"the base model was a local folder (`{base.get('local_folder')}`), not a Hub repo: it cannot be downloaded")
    elif not is_hub_repo_id(str(base["id"])):
        missing.append(f"{PROVENANCE_FILE} names the base model {str(base['id'])[:80]!r}, which is not a Hub repo id")
    elif not base.get("revision"):
        missing.append(f"{PROVENANCE_FILE} does not record which revision of the base model {base['id']} was trained from")
    else:
        missing += readable("model", base["id"], base["revision"], api)
    return missing


def readable(repo_type: str, repo_id: str, revision: str, api) -> list[str]:
    """[] when `repo_id` at `revision` can be read with this token, else why not."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    from hubtools.hubclient import with_retries

    try:
        with_retries(lambda: api.repo_info(repo_id, repo_type=repo_type, revision=revision), f"reading {repo_type} repo {repo_id}", api.endpoint)
    except GatedRepoError:
        return [f"{repo_type} {repo_id} is gated on {api.endpoint}: request access and use a token that has it"]
    except RevisionNotFoundError:
        return [f"{repo_type} {repo_id} has no revision {revision[:12]} on {api.endpoint} any more"]
    except RepositoryNotFoundError:
        return [f"{repo_type} {repo_id} is private or gone on {api.endpoint}: this token cannot read it"]
    return []


def environment_notes(provenance: dict[str, Any] | None) -> list[str]:
    from hubtools.environment import LIBRARIES, library_version

    then = (provenance or {}).get("libraries") or {}
    return [f"{name} {then[name]} then, {library_version(name)} now" for name in LIBRARIES if then.get(name) and then[name] != library_version(name)]


def download_test_data(api, dataset: str, revision: str, out_dir: Path) -> Path:
    from hubtools.hubclient import with_retries

    folder = with_retries(
        lambda: api.snapshot_download(dataset, repo_type="dataset", revision=revision, local_dir=out_dir / "dataset", allow_patterns=["data/*.parquet"]),
        f"downloading dataset repo {dataset}",
        api.endpoint,
    )
    return Path(folder) / "data"


def retrain(api, published: Published, data_dir: Path, out_dir: Path) -> Path:
    """Train the published config on the published splits from the recorded base model commit; returns the new model folder."""
    import pyarrow.parquet as pq

    from hubtools.fit import run_training
    from hubtools.untrusted import download_model

    base = published.provenance["base_model"]
    base_folder = download_model(api, base["id"], base["revision"])
    config = published.config
    columns = set(pq.read_schema(data_dir / "train.parquet").names)
    data = dataclasses.replace(
        config.data, path=None, hub_id=None, files={split: str(data_dir / f"{split}.parquet") for split in SPLITS},
        text_column="text", label_column="label", label_names=published.label_names, sample_size=None,
        remove_leakage=False, create_sample_if_missing=False, extra_columns=[column for column in config.data.extra_columns if column in columns],
    )
    run = out_dir / "run"
    config = dataclasses.replace(config, model=str(base_folder), output_dir=str(run), data=data, card=dataclasses.replace(config.card, prose=None))
    return run_training(config, run).model


def evaluate_folder(model_folder: Path, published: Published, data_dir: Path):
    """Score the model on the test rows the card was scored on (config `evaluate`), as `hubtools train` does."""
    from hubtools.claims import score_probabilities
    from hubtools.dataset_repo import read_named_split
    from hubtools.evaluation.predict import LabelledText, align_labels, load_classifier, predict

    config = published.config
    test = read_named_split(data_dir / "test.parquet")
    positions = config.evaluate.rows(len(test))
    if positions is not None:
        test = test.iloc[positions].reset_index(drop=True)
    classifier = load_classifier(model_folder)
    labels = align_labels(LabelledText(test, str(data_dir / "test.parquet")), classifier.label_names, classifier.source)
    probabilities = predict(classifier, test["text"].astype(str).tolist(), config.training.max_length, config.training.per_device_eval_batch_size)
    references = [classifier.label_names.index(label) for label in labels]
    return score_probabilities(probabilities, references, classifier.label_names, config.data.positive_label)


def reproduce(options: ReproduceOptions) -> Reproduction:
    """Download, (retrain,) evaluate and check; writes reproduction.md/.json into `options.out_dir` (default: the cache)."""
    from hubtools.hubclient import hub_api, resolve_endpoint, resolve_token, with_retries
    from hubtools.untrusted import download_model

    endpoint = resolve_endpoint(options.endpoint)
    api = hub_api(endpoint, resolve_token(options.token))
    out_dir = options.out_dir or default_out_dir("reproduce", options.repo_id)
    info = with_retries(lambda: api.model_info(options.repo_id, revision=options.revision), f"reading model repo {options.repo_id}", endpoint)
    mode: Mode = "evaluate-only" if options.evaluate_only else "retrain"
    published = download_published(api, options.repo_id, info.sha, out_dir)
    result = Reproduction(options.repo_id, info.sha, mode, missing=missing_for(api, published, options.evaluate_only), clamped=published.clamped)
    if not options.evaluate_only:
        result.notes = environment_notes(published.provenance)
    if not result.missing:
        dataset, revision = scored_dataset(published.claims)
        data_dir = download_test_data(api, dataset, revision, out_dir)
        if options.evaluate_only:
            model_folder = download_model(api, options.repo_id, info.sha)
        else:
            model_folder = retrain(api, published, data_dir, out_dir)
        scores = evaluate_folder(model_folder, published, data_dir)
        result.rows = scores.rows
        result.checks = check_claims(published.claims, scores, exact=options.evaluate_only)
    result.report, _ = result.outcome().write(out_dir, "reproduction")
    return result
