"""The inference widget's worker process: builds and runs repo models outside the Hub, within a memory limit.

    python -m hubtools.hub.widget_worker MEMORY_BUDGET_BYTES CACHE_BYTES MAX_WEIGHT_BYTES

The Hub (widget.py) starts it, writes one JSON request per line on its stdin (`repo`, `key`: the commit id,
`folder`: links to the commit's config, tokenizer and safetensors files, `text`) and reads one JSON answer per line
(`scores`, or `status` and a one-line `error`) from the file descriptor that was stdout at start; anything a library
prints goes to stderr. Before any model is built the worker:

- limits its own address space (RLIMIT_AS) to what torch and transformers take once imported plus
  MEMORY_BUDGET_BYTES, so a model that needs more fails here (MemoryError, then the worker exits and its memory
  goes back) instead of growing the Hub;
- asks the kernel to kill it when the Hub dies (PR_SET_PDEATHSIG), and exits when its stdin closes;
- checks the folder with `hubtools.model_files.check_model_folder` (no code, no pickles, safetensors headers
  that fit their files, weights within MAX_WEIGHT_BYTES, config.json matching the weights on the meta device).

Built pipelines stay cached, least recently used first out, while their weights total at most CACHE_BYTES.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

WIDGET_TASK = "text-classification"
MAX_LABELS_SHOWN = 100
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Loaded:
    classifier: Any
    weight_bytes: int


class UnusableModel(Exception):
    """A model the widget refuses or cannot run; its message is the one line the page shows."""


class PipelineCache:
    """Pipelines by commit id, least recently used evicted first, while their weights fit `capacity` bytes."""

    def __init__(self, capacity: int, max_weight_bytes: int) -> None:
        self.capacity = capacity
        self.max_weight_bytes = max_weight_bytes
        self._loaded: OrderedDict[str, Loaded] = OrderedDict()

    @property
    def keys(self) -> list[str]:
        """The cached commit ids, least recently used first."""
        return list(self._loaded)

    def get(self, key: str, repo_id: str, folder: Path) -> Any:
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key].classifier
        loaded = self._build(repo_id, folder)
        while self._loaded and sum(item.weight_bytes for item in self._loaded.values()) + loaded.weight_bytes > self.capacity:
            self._loaded.popitem(last=False)
        if loaded.weight_bytes <= self.capacity:
            self._loaded[key] = loaded
        return loaded.classifier

    def _build(self, repo_id: str, folder: Path) -> Loaded:
        from transformers import pipeline

        from hubtools.model_files import UntrustedModelError, check_model_folder

        try:
            files = check_model_folder(folder, repo_id, self.max_weight_bytes)
        except UntrustedModelError as error:
            raise UnusableModel(str(error)) from error
        try:
            classifier = pipeline(WIDGET_TASK, model=str(folder), device="cpu", trust_remote_code=False,
                                  model_kwargs={"use_safetensors": True})
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as error:
            raise UnusableModel(f"{repo_id}: transformers could not build the model ({first_line(error)})") from error
        return Loaded(classifier, files.weight_bytes)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def classify(cache: PipelineCache, request: dict, budget_bytes: int) -> dict:
    """One request's answer: the scores best first, or a 422 with the reason in one line (`exit`: the worker must
    end, after a MemoryError, so that its memory goes back)."""
    repo_id = str(request["repo"])
    try:
        classifier = cache.get(str(request["key"]), repo_id, Path(request["folder"]))
        scores = classifier(str(request["text"]), top_k=MAX_LABELS_SHOWN, truncation=True)
    except UnusableModel as error:
        return {"status": 422, "error": str(error)}
    except MemoryError:
        return {"status": 422, "exit": True,
                "error": f"{repo_id}: the model needs more than the widget's {budget_bytes // 2**20} MB of memory"}
    except (OSError, ValueError, KeyError, RuntimeError, IndexError, TypeError) as error:
        return {"status": 422, "error": f"{repo_id}: transformers could not run the model ({first_line(error)})"}
    return {"scores": [{"label": str(s["label"]), "score": float(s["score"])} for s in scores]}


def limit_memory(budget_bytes: int) -> None:
    """Cap the address space at what this process maps now plus `budget_bytes`."""
    mapped_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                     if line.startswith("VmSize:"))
    limit = mapped_kb * 1024 + budget_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def die_with_parent() -> None:
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the Hub died before the request to the kernel
        sys.exit(1)


def serve(requests: TextIO, answers: TextIO, cache: PipelineCache, budget_bytes: int) -> None:
    for line in requests:
        answer = classify(cache, json.loads(line), budget_bytes)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
        if answer.get("exit"):
            sys.exit(3)


def main(argv: list[str]) -> None:
    budget, capacity, max_weight_bytes = (int(value) for value in argv)
    die_with_parent()
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints must not corrupt the answers
    import torch
    from transformers import AutoModelForSequenceClassification, pipeline  # noqa: F401 (mapped before the limit)

    torch.set_num_threads(1)
    limit_memory(budget)
    serve(sys.stdin, answers, PipelineCache(capacity, max_weight_bytes), budget)


if __name__ == "__main__":
    main(sys.argv[1:])
