"""`hubtools audit`: check the card of any text-classification model repo, hubtools' or not.

The repo is someone else's: its model files are checked before anything is built (`hubtools.untrusted`,
`hubtools.model_files`: no repo code, no pickles, a config.json that matches its weights), a dataset its card
names is used only as a Hub dataset id, and every repo-given string is escaped in audit.md and the PR.

- metadata: the card parses with huggingface_hub's ModelCard (model-index included) and the Hub's
  `/api/validate-yaml` accepts it (problems); recommended fields that are missing are warnings;
- sections: the `## ` sections of huggingface_hub's model card template that the card lacks, and placeholder
  text ("More Information Needed"): warnings;
- claims: each model-index result whose dataset (a Hub dataset id) and split resolve on the Hub in use (or
  `--dataset/--split`) is re-evaluated and checked against a 95% bootstrap interval (`hubtools.claims`), binary
  metrics for the positive class the repo names; a claim that cannot be re-evaluated is counted as unverifiable;
- labels: `id2label` names real classes and matches the card's labels and the evaluated dataset's;
- widgets: every widget example runs through the pipeline.

Verdict: "problems" (exit 6) when a finding is a problem, else "unverifiable" (exit 8) when no claim could be
checked, else "no problems" (exit 0), warnings listed either way.

With `pr=True` a pull request proposes the corrected model-index and an "Audit" section: a community PR,
which needs only read access to a public repo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hubtools.claims import (
    Claim, ClaimCheck, Outcome, check_claims, claims_table, default_out_dir, escape_markdown, model_index_claims, score_probabilities,
)
from hubtools.errors import HubtoolsError, one_line

CARD_FILE = "README.md"
AUDIT_HEADING = "## Audit"
RECOMMENDED_METADATA = ("license", "language", "library_name", "pipeline_tag", "datasets", "base_model")
GENERIC_LABEL = re.compile(r"LABEL_\d+")
CARD_LABELS = re.compile(r"\*\*Labels:\*\*(.*)")
CARD_LABEL = re.compile(r"`(\d+)` ([^,]+)")
PLACEHOLDER = re.compile(r"more information needed", re.IGNORECASE)
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
METRIC_CLASS = re.compile(r"\(([^()]+)\)\s*$")  # "Test F1 (irony)" -> irony
BINARY_METRICS = ("f1", "precision", "recall")
MAX_CONFIG_BYTES = 1_000_000
Verdict = Literal["problems", "unverifiable", "no problems"]


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


def placeholder_findings(text: str) -> list[str]:
    """Where the card still says "More Information Needed" (the template's and Trainer's placeholder), by section."""
    section, found = "the top of the card", []
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        elif PLACEHOLDER.search(line) and section not in found:
            found.append(section)
    return [f"placeholder text \"More Information Needed\" under {', '.join(found)}"] if found else []


@dataclass
class AuditOptions:
    repo_id: str
    out_dir: Path | None = None  # default: hubtools' cache (`claims.default_out_dir`)
    revision: str | None = None
    dataset: str | None = None
    split: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    pr: bool = False
    endpoint: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Unverified:
    """A claim the audit could not re-evaluate, and why."""

    metric: str
    reason: str


@dataclass
class Audit:
    repo_id: str
    commit: str
    metadata_problems: list[str] = field(default_factory=list)
    metadata_warnings: list[str] = field(default_factory=list)
    missing_sections: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    checks: list[ClaimCheck] = field(default_factory=list)  # claims re-evaluated
    unverified: list[Unverified] = field(default_factory=list)
    label_problems: list[str] = field(default_factory=list)
    labels_checked: str = ""  # what the label checks compared, when they found nothing
    widgets: list[dict[str, Any]] = field(default_factory=list)
    pr_url: str | None = None
    report: Path | None = None  # audit.md, once written

    @property
    def flagged(self) -> list[ClaimCheck]:
        return [check for check in self.checks if check.status == "not reproduced"]

    @property
    def problems(self) -> list[str]:
        """Findings that make the audit fail: invalid metadata, claims outside their interval, label and widget faults."""
        claims = [f"{check.claim.metric} on {check.claim.dataset}[{check.claim.split}]: {check.reason}" for check in self.flagged]
        widgets = [f"widget example {row['index']}: {row['error']}" for row in self.widgets if row.get("error")]
        return self.metadata_problems + claims + self.label_problems + widgets

    @property
    def warnings(self) -> list[str]:
        """Findings a reader of the card needs but that do not fail the audit: missing metadata and sections, placeholders."""
        sections = [f"the model card template's section \"{name}\" is missing" for name in self.missing_sections]
        return self.metadata_warnings + sections + self.placeholders

    @property
    def verdict(self) -> Verdict:
        if self.problems:
            return "problems"
        return "no problems" if self.checks else "unverifiable"

    def claims_line(self) -> str:
        total, within = len(self.checks) + len(self.unverified), len(self.checks) - len(self.flagged)
        line = f"{total} model-index claim(s), {len(self.checks)} checked ({within} within their 95% interval)"
        if self.unverified:
            reasons = list(dict.fromkeys(item.reason for item in self.unverified))
            line += f", {len(self.unverified)} unverifiable: {'; '.join(reasons)}"
        return line

    def summary(self) -> str:
        verdicts = {
            "problems": lambda: f"{len(self.problems)} problem(s), first: {self.problems[0]}",
            "unverifiable": lambda: "unverifiable: " + ("no claim of the card could be re-evaluated" if self.unverified else "the card states no model-index claim"),
            "no problems": lambda: "no problems",
        }
        warnings = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
        pr = f"; pull request: {self.pr_url}" if self.pr_url else ""
        return f"audit {self.repo_id}@{self.commit[:12]}: {self.claims_line()}; {verdicts[self.verdict]()}{warnings}{pr}"

    def section(self) -> str:
        """The card's "Audit" section (also the body of audit.md); every repo-given string escaped."""
        def bullets(items: list[tuple[str, str]], empty: str) -> list[str]:
            return [f"- **{severity}**: {escape_markdown(text)}" for severity, text in items] or [f"_{empty}_"]

        widgets = [
            f"- \"{escape_markdown(row['text'][:60])}\" -> "
            + escape_markdown(f"error: {row['error']}" if row.get("error") else f"{row['label']} ({row['score']:.3f})")
            for row in self.widgets
        ] or ["_The card has no widget examples._"]
        metadata = [("problem", item) for item in self.metadata_problems] + [("warning", item) for item in self.metadata_warnings]
        return "\n".join(
            [
                AUDIT_HEADING, "",
                f"Audited with `hubtools audit` at commit `{self.commit[:12]}`: {escape_markdown(self.summary().split(': ', 1)[1])}.", "",
                "### Claims", "", claims_table(self.checks) if self.checks else "_No model-index claim could be re-evaluated._", "",
                *(["Unverifiable:", "", *bullets([("unverifiable", f"{item.metric}: {item.reason}") for item in self.unverified], ""), ""] if self.unverified else []),
                "### Metadata", "", *bullets(metadata, "Accepted by the Hub, nothing recommended missing."), "",
                "### Labels", "", *bullets([("problem", item) for item in self.label_problems], self.labels_checked), "",
                "### Widget examples", "", *widgets, "",
                "### Sections of the model card template that are missing, and placeholder text", "",
                *bullets([("warning", item) for item in self.missing_sections + self.placeholders], "None."), "",
            ]
        )

    def outcome(self) -> Outcome:
        document = {
            "repo_id": self.repo_id, "commit": self.commit, "verdict": self.verdict, "problems": self.problems, "warnings": self.warnings,
            "metadata_problems": self.metadata_problems, "metadata_warnings": self.metadata_warnings, "missing_sections": self.missing_sections,
            "placeholders": self.placeholders, "claims": [check.as_dict() for check in self.checks],
            "unverified": [{"metric": item.metric, "reason": item.reason} for item in self.unverified],
            "label_problems": self.label_problems, "widgets": self.widgets, "pull_request": self.pr_url,
        }
        return Outcome(document, f"# Audit of {escape_markdown(self.repo_id)}\n\n" + self.section().split("\n", 2)[2])


# ---- checks ------------------------------------------------------------------------------------------


def load_card(path: Path) -> tuple[Any, list[str]]:
    """The card as huggingface_hub reads it, and the problem with its metadata (a finding, not the auditor's to fix)."""
    from huggingface_hub import ModelCard

    try:
        return ModelCard.load(path), []
    except Exception as error:  # huggingface_hub raises ValueError or yaml errors for a broken front matter or model-index
        problem = f"the card's metadata does not parse with huggingface_hub ({one_line(error, 160)})"
    try:
        return ModelCard.load(path, ignore_metadata_errors=True), [problem]
    except Exception:  # the YAML itself is broken: the body alone
        return ModelCard(FRONT_MATTER.sub("", path.read_text(encoding="utf-8"))), [problem]


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


def check_labels(id2label: dict[int, str], card_text: str, dataset_labels: list[str] | None) -> tuple[list[str], str]:
    """(problems, what was compared when there is none)."""
    problems = []
    names = [id2label[index] for index in sorted(id2label)]
    if names and all(GENERIC_LABEL.fullmatch(name) for name in names):
        problems.append(f"config.json's id2label has only generic names ({', '.join(names)}); save the model with id2label naming its classes")
    stated = card_labels(card_text)
    if stated and stated != id2label:
        problems.append(f"the card lists labels {stated} but config.json's id2label is {id2label}")
    if dataset_labels and not all(GENERIC_LABEL.fullmatch(name) for name in names) and sorted(dataset_labels) != sorted(names):
        problems.append(f"the evaluated dataset's labels ({', '.join(dataset_labels)}) differ from id2label ({', '.join(names)})")
    compared = ["id2label names its classes"]
    compared.append("matches the card's labels" if stated else "the card lists no labels to compare")
    compared.append("matches the evaluated dataset's labels" if dataset_labels else "no dataset with named labels was evaluated to compare")
    return problems, "; ".join(compared) + "."


def run_widgets(classifier, card) -> list[dict[str, Any]]:
    rows = []
    for index, example in enumerate(getattr(card.data, "widget", None) or [], start=1):
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


def published_positive_label(api, repo_id: str, commit: str, files: dict[str, int]) -> str | None:
    """`data.positive_label` of the repo's training_config.yaml (hubtools' runs), when it has one."""
    import yaml

    from hubtools.card.context import TRAINING_CONFIG_FILE
    from hubtools.hubclient import with_retries

    if not 0 < files.get(TRAINING_CONFIG_FILE, 0) <= MAX_CONFIG_BYTES:
        return None
    path = with_retries(lambda: api.hf_hub_download(repo_id, TRAINING_CONFIG_FILE, revision=commit), f"downloading {TRAINING_CONFIG_FILE}", api.endpoint)
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    data = config.get("data") if isinstance(config, dict) else None
    value = data.get("positive_label") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def positive_label(card, published: str | None, label_names: list[str]) -> str | None:
    """The class binary precision/recall/F1 are about: the published config's, the card metadata's, or the one a
    binary metric's name gives ("F1 (irony)"); None (the second label) when none names one of the model's labels."""
    if len(label_names) != 2:
        return None
    named = [published, card.data.to_dict().get("positive_label")]
    for result in card.data.eval_results or []:
        if result.metric_type in BINARY_METRICS and (result.metric_args or {}).get("average") in (None, "binary"):
            found = METRIC_CLASS.search(str(result.metric_name or ""))
            named.append(found[1].strip() if found else None)
    return next((name for name in named if name in label_names), None)


@dataclass
class EvaluationSet:
    texts: list[str]
    references: list[int]
    label_names: list[str] | None  # the dataset's ClassLabel names, when it has them


def evaluation_set(data, where: str, column_map: dict[str, str], label2id: dict[str, int]) -> EvaluationSet:
    """A dataset split as texts and model label ids; HubtoolsError naming what does not fit."""
    from datasets import ClassLabel

    text_column, label_column = column_map.get("text", "text"), column_map.get("label", "label")
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in data.column_names:
            raise HubtoolsError(f"{where} has no column '{column}' (columns: {', '.join(data.column_names)}); pass --column-map {role}=COLUMN")
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
            raise HubtoolsError(f"{where} row {row}: label {name!r} is not one of the model's labels ({', '.join(model_names)}); pass --column-map label=COLUMN")
    return EvaluationSet([str(text) for text in data[text_column]], references, names)


def probabilities_of(classifier, texts: list[str]) -> np.ndarray:
    label2id = classifier.model.config.label2id
    outputs = classifier(texts, top_k=None, batch_size=32, truncation=True)
    matrix = np.zeros((len(texts), len(label2id)))
    for row, output in enumerate(outputs):
        for item in output:
            matrix[row, label2id[item["label"]]] = item["score"]
    return matrix


def evaluate_claims(api, classifier, claims: list[Claim], options: AuditOptions, audit: Audit, positive: str | None) -> list[str] | None:
    """Check each claim whose Hub dataset and split resolve, count the others; returns the first evaluated dataset's label names."""
    from hubtools.untrusted import download_split

    config = classifier.model.config
    label_names = [config.id2label[index] for index in sorted(config.id2label)]
    groups: dict[tuple[str | None, str | None, str | None], list[Claim]] = {}
    for claim in claims:
        dataset = options.dataset or claim.dataset
        revision = None if options.dataset else claim.dataset_revision
        groups.setdefault((dataset, options.split or claim.split, revision), []).append(claim)
    dataset_labels = None
    for (dataset, split, revision), group in groups.items():
        try:
            if not split:
                raise HubtoolsError("the model-index names no split; pass --split")
            evaluation = evaluation_set(download_split(api, dataset, revision, split), f"{dataset}[{split}]", options.column_map, config.label2id)
        except HubtoolsError as error:
            audit.unverified += [Unverified(claim.metric, str(error)) for claim in group]
            continue
        dataset_labels = dataset_labels or evaluation.label_names
        scores = score_probabilities(probabilities_of(classifier, evaluation.texts), evaluation.references, label_names, positive)
        resolved = [Claim(claim.where, claim.metric, claim.claimed, split, dataset, revision) for claim in group]
        for check in check_claims(resolved, scores, exact=False):
            if check.status == "not checked":
                audit.unverified.append(Unverified(check.claim.metric, check.reason))
            else:
                audit.checks.append(check)
    return dataset_labels


def corrected_card(card, audit: Audit) -> str:
    """The card with flagged model-index values replaced by the re-evaluated ones and an "Audit" section (replacing an older one)."""
    from hubtools.card.model_index import CARD_DECIMALS, metric_key

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
    """Run every check, write audit.md/.json into `options.out_dir` (default: the cache), and (with `pr`) open the pull request."""
    from transformers import pipeline

    from hubtools.hubclient import hub_api, resolve_endpoint, resolve_token, with_retries
    from hubtools.untrusted import download_model

    endpoint = resolve_endpoint(options.endpoint)
    api = hub_api(endpoint, resolve_token(options.token))
    info = with_retries(
        lambda: api.model_info(options.repo_id, revision=options.revision, files_metadata=True), f"reading model repo {options.repo_id}", endpoint
    )
    files = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or []}
    audit = Audit(options.repo_id, info.sha)
    if CARD_FILE not in files:
        raise HubtoolsError(f"{options.repo_id}: has no {CARD_FILE}, so there is no card to audit")
    path = with_retries(lambda: api.hf_hub_download(options.repo_id, CARD_FILE, revision=info.sha), f"downloading {CARD_FILE}", endpoint)
    card, audit.metadata_problems = load_card(Path(path))
    problems, audit.metadata_warnings = check_metadata(api, card)
    audit.metadata_problems += problems
    audit.missing_sections = missing_sections(card.text)
    audit.placeholders = placeholder_findings(card.text)
    folder = download_model(api, options.repo_id, info.sha)
    classifier = pipeline("text-classification", model=str(folder), tokenizer=str(folder), device="cpu", trust_remote_code=False)
    id2label = dict(classifier.model.config.id2label)
    label_names = [id2label[index] for index in sorted(id2label)]
    positive = positive_label(card, published_positive_label(api, options.repo_id, info.sha, files), label_names)
    dataset_labels = evaluate_claims(api, classifier, model_index_claims(card), options, audit, positive)
    audit.widgets = run_widgets(classifier, card)
    audit.label_problems, audit.labels_checked = check_labels(id2label, card.text, dataset_labels)
    if options.pr:
        audit.pr_url = open_pull_request(api, options, card, audit)
    audit.report, _ = audit.outcome().write(options.out_dir or default_out_dir("audit", options.repo_id), "audit")
    return audit
