"""The inference widget of a model page: the model at one commit, run on CPU through its own transformers
`pipeline("text-classification")`, as huggingface.co's widget runs a text-classification card's examples.

Bounded: inputs up to MAX_INPUT_CHARS, at most MAX_CONCURRENT runs at once (others are refused, not queued), the
MAX_LOADED most recently used pipelines kept in memory, and a page answer within TIMEOUT_S. Only config, tokenizer
and `*.safetensors` files are linked into the folder the pipeline loads, so no pickle from a repo is ever unpickled,
and no repo code runs (trust_remote_code stays off).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hubtools.hub.store import FileEntry, HubStore

MAX_INPUT_CHARS = 2_000
MAX_CONCURRENT = 2
MAX_LOADED = 2
TIMEOUT_S = 120.0
WIDGET_TASK = "text-classification"
LOADABLE_SUFFIXES = (".json", ".txt", ".model", ".safetensors")  # config, tokenizer, weights: never pickles


@dataclass(frozen=True)
class WidgetRun:
    """What the widget box shows after a run: the input, the scores (best first) or why there are none."""

    text: str
    scores: list[dict] = field(default_factory=list)
    error: str | None = None
    status: int = 200

    @property
    def shown_scores(self) -> list[dict]:
        return [{**s, "percent": f"{s['score']:.1%}", "width": f"{s['score'] * 100:.1f}%"} for s in self.scores]


def can_run(card: dict, files: dict[str, FileEntry]) -> bool:
    """A text-classification card (pipeline_tag or `widget:` examples) with a config and safetensors weights."""
    wanted = card.get("pipeline_tag") == WIDGET_TASK or isinstance(card.get("widget"), list)
    return wanted and "config.json" in files and any(p.endswith(".safetensors") for p in files)


def examples(card: dict) -> list[str]:
    """The card's `widget:` example texts (`- text: ...`), as the widget offers them."""
    widget = card.get("widget")
    items = widget if isinstance(widget, list) else []
    return [str(item["text"]) for item in items if isinstance(item, dict) and isinstance(item.get("text"), str)][:10]


def _model_folder(store: HubStore, commit_id: str, files: dict[str, FileEntry]) -> Path:
    """A folder of links to the commit's loadable top-level files (blobs are content-addressed, so links stay valid)."""
    folder = store.root / "widget" / commit_id
    folder.mkdir(parents=True, exist_ok=True)
    for path, entry in files.items():
        if "/" not in path and PurePosixPath(path).suffix in LOADABLE_SUFFIXES:
            link = folder / path
            if not link.is_symlink():
                link.symlink_to(store.blob_path(entry.sha256))
    return folder


class InferenceWidget:
    """The loaded pipelines (LRU by commit) and the slots that bound concurrent runs."""

    def __init__(self) -> None:
        self._pipelines: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)

    def _pipeline(self, store: HubStore, commit_id: str, files: dict[str, FileEntry]) -> Any:
        with self._lock:
            if commit_id in self._pipelines:
                self._pipelines.move_to_end(commit_id)
                return self._pipelines[commit_id]
        from transformers import pipeline

        classifier = pipeline(WIDGET_TASK, model=str(_model_folder(store, commit_id, files)), device="cpu",
                              trust_remote_code=False, model_kwargs={"use_safetensors": True})
        with self._lock:
            self._pipelines[commit_id] = classifier
            while len(self._pipelines) > MAX_LOADED:
                self._pipelines.popitem(last=False)
        return classifier

    def _run(self, store: HubStore, commit_id: str, files: dict[str, FileEntry], text: str) -> list[dict]:
        try:
            scores = self._pipeline(store, commit_id, files)(text, top_k=None, truncation=True)
        finally:
            self._slots.release()  # released by the run itself: a timed-out run keeps its slot until it ends
        return [{"label": str(s["label"]), "score": float(s["score"])} for s in scores]

    async def classify(self, store: HubStore, commit_id: str, files: dict[str, FileEntry], text: str) -> WidgetRun:
        """The scores of every label, best first, or the reason there are none with the page's status."""
        if not text.strip():
            return WidgetRun(text, error="Type a text for the model to classify", status=400)
        if len(text) > MAX_INPUT_CHARS:
            return WidgetRun(text, error=f"The widget takes at most {MAX_INPUT_CHARS} characters, got {len(text)}: shorten the text", status=400)
        if not self._slots.acquire(blocking=False):
            return WidgetRun(text, error=f"The widget already runs {MAX_CONCURRENT} models: try again in a moment", status=503)
        try:  # asyncio.to_thread, unlike Starlette's threadpool, stops waiting at the timeout
            scores = await asyncio.wait_for(asyncio.to_thread(self._run, store, commit_id, files, text), TIMEOUT_S)
        except TimeoutError:
            return WidgetRun(text, error=f"The model did not answer within {TIMEOUT_S:.0f} s: try a shorter text", status=504)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return WidgetRun(text, error=f"transformers could not run the model at commit {commit_id[:7]}: {reason}", status=422)
        return WidgetRun(text, scores)
