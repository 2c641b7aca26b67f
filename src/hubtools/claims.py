"""A card's numbers as claims, and the checks of each against a new evaluation (`reproduce` and `audit`).

A claim is one number a card states: a model-index result, or a cell of the card's results, per-class or
baseline tables (hubtools' card layout; other cards only have model-index claims). A new evaluation gives
each metric a value and a 95% bootstrap interval over the test rows. A claim is checked

- exactly (`exact=True`: the same weights on the same rows, `reproduce --evaluate-only`): the card's value,
  rounded as the card rounds, must equal the new value;
- statistically (retraining, or `audit` of any repo): the claimed value must lie in the new run's 95%
  interval, and where the card publishes an interval for it, the new value must lie in that interval.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from hubtools.rundir import write_json_atomic

ROUNDING = 0.5 * 10**-4 + 1e-9  # cards round to 4 decimals (cards.CARD_DECIMALS)
Status = Literal["reproduced", "not reproduced", "not checked"]
MODEL_INDEX = "model-index"
RESULTS_TABLE = "results table"
PER_CLASS_TABLE = "per-class table"
BASELINE_TABLE = "baseline table"
PER_CLASS_COLUMNS = ("precision", "recall", "f1", "support")
INTERVAL = re.compile(r"^\s*(-?[0-9.]+)\s*[–-]\s*(-?[0-9.]+)\s*$")


@dataclass(frozen=True)
class Claim:
    where: str  # MODEL_INDEX or one of the card's tables
    metric: str  # metrics.json key (accuracy, f1_macro, f1 = binary), per_class/LABEL/{precision,recall,f1,support}, or loss
    claimed: float
    split: str | None = "test"
    dataset: str | None = None
    dataset_revision: str | None = None
    low: float | None = None  # the card's own 95% interval, when it gives one
    high: float | None = None


@dataclass
class Scores:
    """A new evaluation: every metric's value and 95% bootstrap interval on `rows` test rows."""

    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    rows: int


@dataclass
class ClaimCheck:
    claim: Claim
    status: Status
    reason: str
    value: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def difference(self) -> float | None:
        return None if self.value is None else self.value - self.claim.claimed

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.claim), "status": self.status, "reason": self.reason, "new_value": self.value,
                "new_low": self.low, "new_high": self.high, "difference": self.difference}


# ---- claims from a card ---------------------------------------------------------------------------


def model_index_claims(card: Any) -> list[Claim]:
    """One claim per model-index result of a huggingface_hub ModelCard."""
    from hubtools.card.model_index import metric_key

    return [
        Claim(MODEL_INDEX, metric_key(result), float(result.metric_value), result.dataset_split, result.dataset_type, result.dataset_revision)
        for result in card.data.eval_results or []
        if isinstance(result.metric_value, (int, float))
    ]


def markdown_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header cells, body rows) of every pipe table in `text`."""
    tables, lines = [], text.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[index + 1].strip()):
            body = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                body.append(_cells(row))
            tables.append((_cells(line), body))
    return tables


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _number(cell: str) -> float | None:
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return None


def table_claims(text: str, label_names: Sequence[str]) -> list[Claim]:
    """The numbers of hubtools' card tables: results (with the 95% intervals), per class, and the baseline table's model row."""
    from hubtools.card.facts import CARD_METRICS
    from hubtools.metrics import metric_name

    names = {metric_name(key, label): key for key in CARD_METRICS for label in (None, *label_names)} | {"Loss": "loss"}
    claims: list[Claim] = []
    for header, rows in markdown_tables(text):
        if header[:3] == ["metric", "test", "95% interval"]:
            for name, value, interval, *_ in rows:
                found = INTERVAL.match(interval)
                if name in names and _number(value) is not None:
                    low, high = (float(found[1]), float(found[2])) if found else (None, None)
                    claims.append(Claim(RESULTS_TABLE, names[name], float(value), low=low, high=high))
        elif [cell.lower() for cell in header] == ["label", *PER_CLASS_COLUMNS]:
            for label, *cells in rows:
                claims += [
                    Claim(PER_CLASS_TABLE, f"per_class/{label}/{column}", float(cell))
                    for column, cell in zip(PER_CLASS_COLUMNS, cells)
                    if _number(cell) is not None
                ]
        elif header[:1] == ["model"] and header[1:] == ["accuracy", "F1 (macro)", "F1 (weighted)"]:
            for name, *cells in rows:
                if name == "this model":
                    claims += [
                        Claim(BASELINE_TABLE, key, float(cell))
                        for key, cell in zip(("accuracy", "f1_macro", "f1_weighted"), cells)
                        if _number(cell) is not None
                    ]
    return claims


# ---- a new evaluation -------------------------------------------------------------------------------


def score_probabilities(
    probabilities: np.ndarray, references: Sequence[int], label_names: Sequence[str], positive_label: str | None = None
) -> Scores:
    """Values (as the card computes them) and 95% bootstrap intervals of every claimable metric, and of the loss."""
    from hubtools.metrics import compute_classification_report, positive_index
    from hubtools.metrics.uncertainty import RESAMPLES, SEED, claim_intervals

    probabilities, references = np.asarray(probabilities, dtype=float), np.asarray(references)
    predictions = probabilities.argmax(axis=1)
    positive = positive_index(label_names, positive_label)
    report = compute_classification_report(
        predictions, references, list(label_names), positive_label=label_names[positive] if positive is not None else None
    )
    values = {key: float(value) for key, value in report.items() if isinstance(value, (int, float))}
    for label, row in report["per_class"].items():
        values |= {f"per_class/{label}/{column}": float(row[column]) for column in PER_CLASS_COLUMNS}
    losses = -np.log(np.clip(probabilities[np.arange(len(references)), references], 1e-12, None))
    values["loss"] = float(losses.mean())
    intervals = claim_intervals(predictions, references, label_names, positive)
    resampled = np.random.default_rng(SEED).integers(0, len(losses), size=(RESAMPLES, len(losses)))
    intervals["loss"] = tuple(float(bound) for bound in np.percentile(losses[resampled].mean(axis=1), [2.5, 97.5]))
    return Scores(values, intervals, len(references))


def check_claim(claim: Claim, scores: Scores, exact: bool) -> ClaimCheck:
    if claim.metric not in scores.values:
        return ClaimCheck(claim, "not checked", f"{claim.metric} is not a metric the evaluation computes for these labels")
    value = scores.values[claim.metric]
    low, high = scores.intervals.get(claim.metric, (value, value))
    check = ClaimCheck(claim, "reproduced", "", value, low, high)
    if claim.metric.endswith("/support"):
        exact = True
    if exact:
        tolerance = 0.0 if claim.metric.endswith("/support") else ROUNDING
        if abs(value - claim.claimed) > tolerance:
            check.status, check.reason = "not reproduced", f"the card says {claim.claimed:g}, the same weights on the same rows give {value:.4f}"
        return check
    if not low - ROUNDING <= claim.claimed <= high + ROUNDING:
        check.status, check.reason = "not reproduced", f"{claim.claimed:g} is outside the new 95% interval {low:.4f} – {high:.4f}"
    elif claim.low is not None and claim.high is not None and not claim.low - ROUNDING <= value <= claim.high + ROUNDING:
        check.status, check.reason = "not reproduced", f"the new {value:.4f} is outside the card's 95% interval {claim.low:g} – {claim.high:g}"
    return check


def check_claims(claims: Sequence[Claim], scores: Scores, exact: bool) -> list[ClaimCheck]:
    return [check_claim(claim, scores, exact) for claim in claims]


# ---- writing the outcome ----------------------------------------------------------------------------


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def escape_markdown(text: object) -> str:
    """`text` as one line of literal Markdown: HTML and Markdown syntax escaped, so a repo's string can neither add a
    table row, a heading or a link nor inject `<script>`."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(" ".join(str(text).split()), quote=False))


def default_out_dir(command: str, repo_id: str) -> Path:
    """Where `audit`/`reproduce` write when not told (--out): hubtools' cache, never the working directory."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "hubtools" / command / repo_id.replace("/", "--")


def claims_table(checks: Sequence[ClaimCheck]) -> str:
    """Markdown table: one row per claim, with the card's value and interval, the new value and interval, the difference."""
    lines = [
        "| where | metric | split | card | card's 95% interval | new | new 95% interval | difference | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for check in checks:
        claim = check.claim
        published = f"{claim.low:g} – {claim.high:g}" if claim.low is not None else "–"
        new_interval = f"{fmt(check.low)} – {fmt(check.high)}" if check.low is not None else "–"
        difference = "–" if check.difference is None else f"{check.difference:+.4f}"
        verdict = check.status if not check.reason else f"{check.status}: {check.reason}"
        cells = (claim.where, claim.metric, claim.split or "–", f"{claim.claimed:g}", published, fmt(check.value), new_interval, difference, verdict)
        lines.append("| " + " | ".join(escape_markdown(cell) for cell in cells) + " |")
    return "\n".join(lines)


@dataclass
class Outcome:
    """What a `reproduce` or `audit` run writes: NAME.md for people, NAME.json for tools."""

    document: dict[str, Any] = field(default_factory=dict)
    markdown: str = ""

    def write(self, out_dir: Path, name: str) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        markdown, document = out_dir / f"{name}.md", out_dir / f"{name}.json"
        markdown.write_text(self.markdown.rstrip() + "\n", encoding="utf-8")
        write_json_atomic(document, self.document)
        return markdown, document
