"""`hubtools audit`: check the card of any text-classification model repo, hubtools' or not.

- metadata: the card parses with huggingface_hub's ModelCard (model-index included) and the Hub's
  `/api/validate-yaml` accepts it; recommended fields that are missing are listed;
- sections: the `## ` sections of huggingface_hub's model card template that the card lacks;
- claims: each model-index result whose dataset and split load with `datasets` (or `--dataset/--split`)
  is re-evaluated through `pipeline()` and checked against a 95% bootstrap interval (`hubtools.claims`);
- labels: `id2label` names real classes and matches the evaluated dataset's and the card's labels;
- widgets: every widget example runs through the pipeline.

With `pr=True` a pull request proposes the corrected model-index and an "Audit" section: a community PR,
which needs only read access to a public repo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hubtools.claims import Claim, ClaimCheck, Outcome, check_claims, claims_table, model_index_claims
from hubtools.errors import HubtoolsError, one_line

CARD_FILE = "README.md"
AUDIT_HEADING = "## Audit"
RECOMMENDED_METADATA = ("license", "language", "library_name", "pipeline_tag", "datasets", "base_model")
GENERIC_LABEL = re.compile(r"LABEL_\d+")
CARD_LABELS = re.compile(r"\*\*Labels:\*\*(.*)")
CARD_LABEL = re.compile(r"`(\d+)` ([^,]+)")


def parse_column_map(text: str | None) -> dict[str, str]:
    """`text=sentence,label=sentiment` -> {"text": "sentence", "label": "sentiment"}."""
    mapping = {}
    for part in filter(None, (text or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("text", "label") or not value.strip():
            raise HubtoolsError(f"--column-map {text!r}: expected text=COLUMN,label=COLUMN (e.g. text=sentence,label=sentiment)")
        mapping[key.strip()] = value.strip()
    return mapping


def template_sections() -> list[str]:
    """The required (not `[optional]`) `## ` sections of huggingface_hub's model card template."""
    from huggingface_hub.repocard import TEMPLATE_MODELCARD_PATH

    return [
        line[3:].strip()
        for line in TEMPLATE_MODELCARD_PATH.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ") and "[optional]" not in line
    ]


def missing_sections(text: str) -> list[str]:
    headings = {line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("#")}
    return [section for section in template_sections() if section.lower() not in headings]


@dataclass
class AuditOptions:
    repo_id: str
    out_dir: Path = Path("audit")
    revision: str | None = None
    dataset: str | None = None
    split: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    pr: bool = False
    endpoint: str | None = None
    token: str | None = None


@dataclass
class Audit:
    repo_id: str
    commit: str
    metadata_problems: list[str] = field(default_factory=list)
    metadata_warnings: list[str] = field(default_factory=list)
    missing_sections: list[str] = field(default_factory=list)
    checks: list[ClaimCheck] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # claims not re-evaluated, and why
    label_problems: list[str] = field(default_factory=list)
    widgets: list[dict[str, Any]] = field(default_factory=list)
    pr_url: str | None = None

    @property
    def flagged(self) -> list[ClaimCheck]:
        return [check for check in self.checks if check.status == "not reproduced"]

    @property
    def problems(self) -> list[str]:
        """Findings that make the audit fail: rejected metadata, claims outside their interval, label and widget faults."""
        claims = [f"{check.claim.metric} on {check.claim.dataset}[{check.claim.split}]: {check.reason}" for check in self.flagged]
        widgets = [f"widget example {row['index']}: {row['error']}" for row in self.widgets if row.get("error")]
        return self.metadata_problems + claims + self.label_problems + widgets

    def summary(self) -> str:
        checked = f"{len(self.checks) - len(self.flagged)} of {len(self.checks)} model-index claims within their 95% interval"
        unresolved = f", {len(self.unresolved)} not re-evaluated" if self.unresolved else ""
        verdict = "no problems" if not self.problems else f"{len(self.problems)} problem(s), first: {self.problems[0]}"
        pr = f"; pull request: {self.pr_url}" if self.pr_url else ""
        return f"audit {self.repo_id}@{self.commit[:12]}: {checked}{unresolved}; {verdict}{pr}"

    def section(self) -> str:
        """The card's "Audit" section (also the body of audit.md)."""
        def bullets(items: list[str], empty: str) -> list[str]:
            return [f"- {item}" for item in items] or [f"_{empty}_"]

        widgets = [
            f"- `{row['text'][:60]}` -> " + (f"error: {row['error']}" if row.get("error") else f"{row['label']} ({row['score']:.3f})")
            for row in self.widgets
        ] or ["_The card has no widget examples._"]
        return "\n".join(
            [
                AUDIT_HEADING, "",
                f"Audited with `hubtools audit` at commit `{self.commit[:12]}`: {self.summary().split(': ', 1)[1]}.", "",
                "### Claims", "", claims_table(self.checks) if self.checks else "_No model-index claim could be re-evaluated._", "",
                *(["Not re-evaluated:", "", *bullets(self.unresolved, ""), ""] if self.unresolved else []),
                "### Metadata", "", *bullets(self.metadata_problems + self.metadata_warnings, "Accepted by the Hub, nothing recommended missing."), "",
                "### Labels", "", *bullets(self.label_problems, "id2label matches the card and the evaluated data."), "",
                "### Widget examples", "", *widgets, "",
                "### Sections of the model card template that are missing", "",
                *bullets(self.missing_sections, "None."), "",
            ]
        )

    def outcome(self) -> Outcome:
        document = {
            "repo_id": self.repo_id, "commit": self.commit, "problems": self.problems, "metadata_problems": self.metadata_problems,
            "metadata_warnings": self.metadata_warnings, "missing_sections": self.missing_sections,
            "claims": [check.as_dict() for check in self.checks], "unresolved": self.unresolved,
            "label_problems": self.label_problems, "widgets": self.widgets, "pull_request": self.pr_url,
        }
        return Outcome(document, f"# Audit of {self.repo_id}\n\n" + self.section().split("\n", 2)[2])


# ---- checks ------------------------------------------------------------------------------------------


def check_metadata(api, card) -> tuple[list[str], list[str]]:
    """(problems: the Hub rejects the metadata; warnings: recommended fields missing or off-task)."""
    from huggingface_hub.errors import HfHubHTTPError

    from hubtools.hubclient import validate_card_metadata

    problems, warnings = [], []
    try:
        validate_card_metadata(api, card)
    except ValueError as error:
        problems.append(f"the Hub rejects the card's metadata: {one_line(error)}")
    except HfHubHTTPError as error:
        warnings.append(f"{api.endpoint}/api/validate-yaml could not check the metadata ({one_line(error)})")
    data = card.data.to_dict()
    warnings += [f"metadata `{key}` is missing" for key in RECOMMENDED_METADATA if not data.get(key)]
    if data.get("pipeline_tag") not in (None, "text-classification"):
        warnings.append(f"pipeline_tag is {data['pipeline_tag']!r}, not text-classification")
    return problems, warnings


def card_labels(text: str) -> dict[int, str]:
    """hubtools' "**Labels:** `0` a, `1` b" line, as {0: "a", 1: "b"} ({} when the card has none)."""
    found = CARD_LABELS.search(text)
    return {int(index): name.strip() for index, name in CARD_LABEL.findall(found[1])} if found else {}


def check_labels(id2label: dict[int, str], card_text: str, dataset_labels: list[str] | None) -> list[str]:
    problems = []
    names = [id2label[index] for index in sorted(id2label)]
    if names and all(GENERIC_LABEL.fullmatch(name) for name in names):
        problems.append(f"config.json's id2label has only generic names ({', '.join(names)}); save the model with id2label naming its classes")
    stated = card_labels(card_text)
    if stated and stated != id2label:
        problems.append(f"the card lists labels {stated} but config.json's id2label is {id2label}")
    if dataset_labels and not all(GENERIC_LABEL.fullmatch(name) for name in names) and sorted(dataset_labels) != sorted(names):
        problems.append(f"the evaluated dataset's labels ({', '.join(dataset_labels)}) differ from id2label ({', '.join(names)})")
    return problems


def run_widgets(classifier, card) -> list[dict[str, Any]]:
    rows = []
    for index, example in enumerate(card.data.widget or [], start=1):
        text = example.get("text") if isinstance(example, dict) else None
        if not isinstance(text, str) or not text.strip():
            rows.append({"index": index, "text": str(example), "error": "no `text` (a text-classification widget needs one)"})
            continue
        try:
            top = classifier(text, truncation=True)[0]
        except Exception as error:  # any failure of the model on this input is the finding
            rows.append({"index": index, "text": text, "error": one_line(error)})
            continue
        rows.append({"index": index, "text": text, "label": top["label"], "score": float(top["score"])})
    return rows


@dataclass
class EvaluationSet:
    texts: list[str]
    references: list[int]
    label_names: list[str] | None  # the dataset's ClassLabel names, when it has them


def load_evaluation_set(
    dataset: str, split: str, revision: str | None, column_map: dict[str, str], label2id: dict[str, int], token: str | None
) -> EvaluationSet:
    """A dataset split as texts and model label ids; HubtoolsError naming what does not fit."""
    from datasets import ClassLabel, load_dataset

    text_column, label_column = column_map.get("text", "text"), column_map.get("label", "label")
    try:
        data = load_dataset(dataset, split=split, revision=revision, token=token)
    except Exception as error:  # missing repo, split or revision: named in the audit, not guessed around
        raise HubtoolsError(f"{dataset}[{split}] could not be loaded ({one_line(error, 160)})") from error
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in data.column_names:
            raise HubtoolsError(f"{dataset}[{split}] has no column '{column}' (columns: {', '.join(data.column_names)}); pass --column-map {role}=COLUMN")
    feature = data.features[label_column]
    names = feature.names if isinstance(feature, ClassLabel) else None
    model_names = sorted(label2id, key=label2id.get)
    generic = all(GENERIC_LABEL.fullmatch(name) for name in model_names)
    references = []
    for row, value in enumerate(data[label_column], start=1):
        name = names[value] if names is not None else str(value)
        if name in label2id:
            references.append(label2id[name])
        elif (generic or names is None) and str(value).isdigit() and int(value) < len(model_names):
            references.append(int(value))
        else:
            raise HubtoolsError(f"{dataset}[{split}] row {row}: label {name!r} is not one of the model's labels ({', '.join(model_names)}); pass --column-map label=COLUMN")
    return EvaluationSet([str(text) for text in data[text_column]], references, names)


def probabilities_of(classifier, texts: list[str]) -> np.ndarray:
    label2id = classifier.model.config.label2id
    outputs = classifier(texts, top_k=None, batch_size=32, truncation=True)
    matrix = np.zeros((len(texts), len(label2id)))
    for row, output in enumerate(outputs):
        for item in output:
            matrix[row, label2id[item["label"]]] = item["score"]
    return matrix


def evaluate_claims(classifier, claims: list[Claim], options: AuditOptions, audit: Audit, token: str | None) -> list[str] | None:
    """Check each claim whose dataset and split resolve; returns the first evaluated dataset's label names."""
    from hubtools.claims import score_probabilities

    config = classifier.model.config
    label_names = [config.id2label[index] for index in sorted(config.id2label)]
    groups: dict[tuple[str | None, str | None, str | None], list[Claim]] = {}
    for claim in claims:
        dataset = options.dataset or (claim.dataset if claim.dataset not in (None, "custom") else None)
        revision = None if options.dataset else claim.dataset_revision
        groups.setdefault((dataset, options.split or claim.split, revision), []).append(claim)
    dataset_labels = None
    for (dataset, split, revision), group in groups.items():
        names = ", ".join(claim.metric for claim in group)
        if not dataset or not split:
            audit.unresolved.append(f"{names}: the model-index names no {'dataset' if not dataset else 'split'}; pass --dataset and --split")
            continue
        try:
            evaluation = load_evaluation_set(dataset, split, revision, options.column_map, config.label2id, token)
        except HubtoolsError as error:
            audit.unresolved.append(f"{names}: {error}")
            continue
        dataset_labels = dataset_labels or evaluation.label_names
        scores = score_probabilities(probabilities_of(classifier, evaluation.texts), evaluation.references, label_names)
        resolved = [Claim(claim.where, claim.metric, claim.claimed, split, dataset, revision) for claim in group]
        audit.checks += check_claims(resolved, scores, exact=False)
    return dataset_labels


def corrected_card(card, audit: Audit) -> str:
    """The card with flagged model-index values replaced by the re-evaluated ones and an "Audit" section (replacing an older one)."""
    from hubtools.cards import CARD_DECIMALS, metric_key

    corrections = {(check.claim.metric, check.claim.split): check.value for check in audit.flagged}
    for result in card.data.eval_results or []:
        value = corrections.get((metric_key(result), result.dataset_split))
        if value is not None:
            result.metric_value = round(value, CARD_DECIMALS)
    text = card.text.split(f"\n{AUDIT_HEADING}\n")[0].rstrip()
    card.text = f"{text}\n\n{audit.section()}"
    return str(card)


def open_pull_request(api, options: AuditOptions, card, audit: Audit) -> str:
    """Open the pull request with the corrected card, once: a re-run, or a retry after a lost answer, finds the open
    pull request carrying the same marker (same repo, audited commit and corrected card) instead of opening another."""
    import hashlib

    from huggingface_hub import CommitOperationAdd

    from hubtools.safe_commit import commit_marker, commit_once

    content = corrected_card(card, audit).encode("utf-8")
    flagged = len(audit.flagged)
    landed = commit_once(
        api,
        options.repo_id,
        [CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=content)],
        repo_type="model",
        revision="main",
        commit_message=f"Audit: {flagged} model-index claim(s) corrected" if flagged else "Audit: add the audit section",
        description=f"Opened by `hubtools audit --pr` on commit {audit.commit}.\n\n{audit.summary()}",
        marker=commit_marker("audit", options.repo_id, audit.commit, hashlib.sha256(content).hexdigest()),
        parent_commit=None,
        create_pr=True,
        describe=f"opening a pull request on {options.repo_id}",
    )
    return landed.pr_url


def audit_repo(options: AuditOptions) -> Audit:
    """Run every check, write audit.md/.json into `options.out_dir`, and (with `pr`) open the pull request."""
    import datasets  # noqa: F401  imported before process_endpoint, which repoints its copy of the endpoint
    from huggingface_hub import ModelCard
    from transformers import pipeline

    from hubtools.hubclient import hub_api, model_load_error, resolve_endpoint, resolve_token, with_retries
    from hubtools.process_endpoint import process_endpoint

    endpoint = resolve_endpoint(options.endpoint)
    token = resolve_token(options.token)
    api = hub_api(endpoint, token)
    info = with_retries(lambda: api.model_info(options.repo_id, revision=options.revision), f"reading model repo {options.repo_id}", endpoint)
    audit = Audit(options.repo_id, info.sha)
    if CARD_FILE not in {sibling.rfilename for sibling in info.siblings or []}:
        raise HubtoolsError(f"{options.repo_id}: has no {CARD_FILE}, so there is no card to audit")
    path = with_retries(lambda: api.hf_hub_download(options.repo_id, CARD_FILE, revision=info.sha), f"downloading {CARD_FILE}", endpoint)
    try:
        card = ModelCard.load(path)
    except Exception as error:  # huggingface_hub raises ValueError or yaml errors for a broken front matter or model-index
        raise HubtoolsError(f"{options.repo_id}: {CARD_FILE}'s metadata does not parse with huggingface_hub ({one_line(error)}); fix the YAML header") from error
    audit.metadata_problems, audit.metadata_warnings = check_metadata(api, card)
    audit.missing_sections = missing_sections(card.text)
    with process_endpoint(endpoint):
        try:
            classifier = pipeline("text-classification", model=options.repo_id, revision=info.sha, token=token, device="cpu")
        except (OSError, ValueError) as error:
            raise model_load_error(options.repo_id, error, endpoint) from error
        dataset_labels = evaluate_claims(classifier, model_index_claims(card), options, audit, token)
        audit.widgets = run_widgets(classifier, card)
    audit.label_problems = check_labels(dict(classifier.model.config.id2label), card.text, dataset_labels)
    if options.pr:
        audit.pr_url = open_pull_request(api, options, card, audit)
    audit.outcome().write(options.out_dir, "audit")
    return audit
