"""Which epoch's checkpoint becomes the model, and why.

Trainer keeps the first checkpoint that reaches the best `metric_for_best_model`. On small validation
splits several epochs often tie (the same F1 from the same handful of rows), and the first of them is
usually the least trained. hubtools breaks ties by the lower validation loss, then by the later step.
`CheckpointChoice` is written to the run directory (`RunDir.checkpoint_selection`) and the card quotes it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CheckpointChoice:
    step: int
    epoch: float
    metric: str
    value: float
    validation_loss: float | None
    tied_steps: list[int]  # every step that reached the same best value (this one included)
    reason: str

    @property
    def checkpoint(self) -> str:
        return f"checkpoint-{self.step}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"checkpoint": self.checkpoint}


def select_checkpoint(rows: Sequence[dict[str, Any]], metric: str, greater_is_better: bool = True) -> CheckpointChoice:
    """The best evaluation row of `rows` (log_history.json rows: step, epoch, validation_loss, metrics).
    `metric` is Trainer's `metric_for_best_model`: `f1_macro`, `eval_f1_macro`, `loss` (= validation_loss)..."""
    metric = row_key(metric)
    scored = [row for row in rows if isinstance(row.get(metric), (int, float))]
    if not scored:
        raise ValueError(f"no evaluation row holds {metric!r}; set training.metric_for_best_model to a reported metric")
    sign = 1 if greater_is_better else -1
    best_value = max(sign * row[metric] for row in scored) * sign
    tied = [row for row in scored if math.isclose(row[metric], best_value, rel_tol=0, abs_tol=TIE_TOLERANCE)]
    chosen = min(tied, key=lambda row: (_loss(row), -row["step"]))
    return CheckpointChoice(
        step=int(chosen["step"]),
        epoch=float(chosen["epoch"]),
        metric=metric,
        value=float(chosen[metric]),
        validation_loss=chosen.get("validation_loss"),
        tied_steps=[int(row["step"]) for row in tied],
        reason=_reason(chosen, tied, metric, greater_is_better),
    )


def row_key(metric: str) -> str:
    """Trainer's metric name -> the log_history.json column holding it."""
    name = metric.removeprefix("eval_")
    return "validation_loss" if name == "loss" else name


def _loss(row: dict[str, Any]) -> float:
    loss = row.get("validation_loss")
    return loss if isinstance(loss, (int, float)) else math.inf


def _reason(chosen: dict[str, Any], tied: list[dict[str, Any]], metric: str, greater_is_better: bool) -> str:
    shown = "validation loss" if metric == "validation_loss" else f"validation {metric}"
    best = f"{'highest' if greater_is_better else 'lowest'} {shown} ({chosen[metric]:.4f})"
    if len(tied) == 1:
        return f"{best}"
    epochs = ", ".join(_epoch(row) for row in tied)
    lowest_loss = [row for row in tied if _loss(row) == _loss(chosen)]
    if len(lowest_loss) == 1:
        return f"{best}, tied at epochs {epochs}; lowest validation loss among them ({_loss(chosen):.4f})"
    return f"{best}, tied at epochs {epochs} with the same validation loss; the later step"


def _epoch(row: dict[str, Any]) -> str:
    return f"{row['epoch']:g}"
