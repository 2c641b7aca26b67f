"""The inference widget of a model page: the model at one commit, run through transformers'
`pipeline("text-classification")` as huggingface.co's widget runs a text-classification card's examples, but
never inside the Hub process: a worker process (widget_worker.py) checks the model folder, builds the pipeline and
runs it within a memory limit, and is killed when a run passes the timeout.

Bounded: inputs up to MAX_INPUT_CHARS; at most MAX_CONCURRENT requests admitted at once (one runs in the worker,
the others wait; more are refused, not queued); the worker's address space (its imports plus
`memory_budget_bytes`); its cache of built pipelines (`cache_bytes` of weights); a page answer within `timeout_s`.
Only config, tokenizer and `*.safetensors` files are linked into the folder the worker loads, so no pickle from a
repo is ever unpickled, and no repo code runs (trust_remote_code stays off). HUBTOOLS_WIDGET_MEMORY_MB and
HUBTOOLS_WIDGET_TIMEOUT_S override the memory budget and the timeout for one Hub (read when it starts).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hubtools.errors import InputError
from hubtools.hub.store import FileEntry, HubStore
from hubtools.hub.widget_worker import WIDGET_TASK

MAX_INPUT_CHARS = 2_000
MAX_CONCURRENT = 2
LOADABLE_SUFFIXES = (".json", ".txt", ".model", ".safetensors")  # config, tokenizer, weights: never pickles
MAX_ANSWER_BYTES = 1024 * 1024  # one answer line from the worker (at most 100 labels' scores)
# what the worker keeps of the Hub's environment: never a token, key or secret
WORKER_ENVIRONMENT = ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
WORKER_SETTINGS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                   "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


@dataclass(frozen=True)
class WidgetLimits:
    """The worker's bounds: memory past its imports, weights kept built, weights accepted, seconds per answer."""

    memory_budget_bytes: int = 2 * 1024**3
    cache_bytes: int = 1024**3
    max_weight_bytes: int = 1024**3
    timeout_s: float = 120.0

    @classmethod
    def from_environment(cls) -> WidgetLimits:
        memory_mb = _positive_number("HUBTOOLS_WIDGET_MEMORY_MB", cls.memory_budget_bytes / 2**20)
        timeout_s = _positive_number("HUBTOOLS_WIDGET_TIMEOUT_S", cls.timeout_s)
        return cls(memory_budget_bytes=int(memory_mb * 2**20), timeout_s=timeout_s)


def _positive_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise InputError(f"{name}={value!r}: set a positive number, or unset it for the default {default:g}")
    return number


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
                try:
                    link.symlink_to(store.blob_path(entry.sha256))
                except FileExistsError:  # another request for the same commit linked it first
                    pass
    return folder


class InferenceWidget:
    """The worker process (started on first use, replaced after it dies or times out) and the admitted requests."""

    def __init__(self, limits: WidgetLimits | None = None) -> None:
        self.limits = limits or WidgetLimits.from_environment()
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()  # one request in the worker at a time
        self._admitted = 0

    async def classify(self, store: HubStore, repo_id: str, commit_id: str, files: dict[str, FileEntry], text: str) -> WidgetRun:
        """The scores of every label, best first, or the reason there are none with the page's status."""
        if not text.strip():
            return WidgetRun(text, error="Type a text for the model to classify", status=400)
        if len(text) > MAX_INPUT_CHARS:
            return WidgetRun(text, error=f"The widget takes at most {MAX_INPUT_CHARS} characters, got {len(text)}: shorten the text", status=400)
        if self._admitted >= MAX_CONCURRENT:
            return WidgetRun(text, error=f"The widget already runs {MAX_CONCURRENT} requests: try again in a moment", status=503)
        self._admitted += 1
        try:
            answer = await asyncio.wait_for(self._ask(store, repo_id, commit_id, files, text), self.limits.timeout_s)
        except TimeoutError:
            return WidgetRun(text, error=f"The model did not answer within {self.limits.timeout_s:g} s: try a shorter text", status=504)
        finally:
            self._admitted -= 1
        if "scores" in answer:
            return WidgetRun(text, answer["scores"])
        return WidgetRun(text, error=str(answer["error"]), status=int(answer["status"]))

    async def close(self) -> None:
        """End the worker (the Hub stops)."""
        async with self._lock:
            await self._end_worker()

    async def _ask(self, store: HubStore, repo_id: str, commit_id: str, files: dict[str, FileEntry], text: str) -> dict:
        folder = await asyncio.to_thread(_model_folder, store, commit_id, files)
        request = {"repo": repo_id, "key": commit_id, "folder": str(folder), "text": text}
        async with self._lock:
            process = await self._worker()
            try:
                return await self._exchange(process, request)
            except asyncio.CancelledError:  # timed out: the model may never finish, so its worker ends now
                await self._end_worker()
                raise

    async def _exchange(self, process: asyncio.subprocess.Process, request: dict) -> dict:
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(request).encode() + b"\n")
            await process.stdin.drain()
            line = await process.stdout.readline()
        except (BrokenPipeError, ConnectionResetError):  # it died before reading the request
            line = b""
        except ValueError:  # an answer line past MAX_ANSWER_BYTES: the labels' names are that long
            await self._end_worker()
            return {"status": 422, "error": f"{request['repo']}: the model's label names are too long to show"}
        if not line:
            status = await process.wait()
            self._process = None
            ended = f"signal {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
            budget_mb = self.limits.memory_budget_bytes // 2**20
            return {"status": 422, "error": f"{request['repo']}: the widget's worker ended ({ended}) while running the "
                    f"model, which needs more than the widget's {budget_mb} MB of memory"}
        answer = json.loads(line)
        if answer.get("exit"):
            await process.wait()
            self._process = None
        return answer

    async def _worker(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            limits = self.limits
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hubtools.hub.widget_worker",
                str(limits.memory_budget_bytes), str(limits.cache_bytes), str(limits.max_weight_bytes),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=MAX_ANSWER_BYTES,
                env={**{k: v for k, v in os.environ.items() if k in WORKER_ENVIRONMENT}, **WORKER_SETTINGS},
            )
        return self._process

    async def _end_worker(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None
