"""Checkpoint selection: ties on the best-model metric go to the lower validation loss, then the later step."""

from __future__ import annotations

import pytest

from hubtools.selection import select_checkpoint

# the quickstart as first published: every epoch ties on F1 macro, the first (least trained) won
QUICKSTART_TIE = [
    {"epoch": 1.0, "step": 18, "validation_loss": 1.15, "f1_macro": 0.9048},
    {"epoch": 2.0, "step": 36, "validation_loss": 0.71, "f1_macro": 0.9048},
    {"epoch": 3.0, "step": 54, "validation_loss": 0.50, "f1_macro": 0.9048},
]


def test_tie_goes_to_the_lower_validation_loss():
    choice = select_checkpoint(QUICKSTART_TIE, "f1_macro")
    assert (choice.step, choice.checkpoint, choice.tied_steps) == (54, "checkpoint-54", [18, 36, 54])
    assert choice.reason == "highest validation f1_macro (0.9048), tied at epochs 1, 2, 3; lowest validation loss among them (0.5000)"


def test_same_loss_too_goes_to_the_later_step():
    rows = [dict(row, validation_loss=0.5) for row in QUICKSTART_TIE[:2]] + [dict(QUICKSTART_TIE[2], f1_macro=0.8)]
    choice = select_checkpoint(rows, "f1_macro")
    assert choice.step == 36 and choice.reason.endswith("with the same validation loss; the later step")


def test_a_strictly_better_epoch_wins_whatever_its_loss():
    rows = [dict(QUICKSTART_TIE[0], f1_macro=0.95), *QUICKSTART_TIE[1:]]
    choice = select_checkpoint(rows, "f1_macro")
    assert choice.step == 18 and choice.reason == "highest validation f1_macro (0.9500)" and choice.tied_steps == [18]


def test_loss_as_the_metric_is_minimised():
    rows = [{"epoch": 1.0, "step": 5, "validation_loss": 0.4}, {"epoch": 2.0, "step": 10, "validation_loss": 0.3}]
    assert select_checkpoint(rows, "validation_loss", greater_is_better=False).step == 10
    assert select_checkpoint(rows, "loss", greater_is_better=False).step == 10  # Trainer's name for it
    assert select_checkpoint(QUICKSTART_TIE, "eval_f1_macro").step == 54


def test_unknown_metric_is_an_error():
    with pytest.raises(ValueError, match="no evaluation row holds 'f1'"):
        select_checkpoint(QUICKSTART_TIE, "f1")
