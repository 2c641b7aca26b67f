"""The test split's probabilities, saved by training and reused by `hubtools evaluate --run`.

Training already runs the saved weights over the test split (`hubtools.train.evaluate_saved_model`);
it keeps the softmax probabilities in RUN/test_predictions.npz with what they depend on: a digest of
the model folder's files (weights, config, tokenizer; not onnx/), a digest of the texts scored, in
order (the test split, or its seeded sample), and max_length. `hubtools evaluate --run` reuses them
only when all three still match, and scores the model again otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hubtools.rundir import RunDir

logger = logging.getLogger(__name__)


def model_digest(model_dir: Path) -> str:
    """sha256 over the model folder's files (names and contents, sorted); sub-folders such as onnx/ are left out."""
    digest = hashlib.sha256()
    for path in sorted(item for item in model_dir.iterdir() if item.is_file()):
        digest.update(path.name.encode("utf-8") + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def texts_digest(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()


def prediction_key(run: RunDir, texts: Sequence[str], max_length: int) -> dict[str, str | int]:
    return {"model": model_digest(run.model), "texts": texts_digest(texts), "max_length": max_length}


def save_test_predictions(run: RunDir, texts: Sequence[str], probabilities: np.ndarray, max_length: int) -> None:
    """Write RUN/test_predictions.npz through a temporary file, so a crash leaves the old one or none."""
    key = json.dumps(prediction_key(run, texts, max_length))
    partial = run.test_predictions.with_name(f".{run.test_predictions.name}.partial.npz")
    np.savez(partial, probabilities=np.asarray(probabilities, dtype=np.float32), key=np.array(key))
    partial.replace(run.test_predictions)


def load_test_predictions(run: RunDir, texts: Sequence[str], max_length: int) -> np.ndarray | None:
    """The saved probabilities when they belong to these weights, texts and max_length; None otherwise."""
    if not run.test_predictions.is_file():
        return None
    with np.load(run.test_predictions, allow_pickle=False) as saved:
        probabilities, key = saved["probabilities"], json.loads(str(saved["key"]))
    if key != prediction_key(run, texts, max_length) or len(probabilities) != len(texts):
        logger.info("%s: saved for other weights, texts or max_length; scoring the test split again", run.test_predictions)
        return None
    return probabilities
