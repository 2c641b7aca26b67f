"""What a run ran on: hardware, precision, library versions, git commit and command line."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LIBRARIES = ("hubtools", "torch", "transformers", "datasets", "accelerate", "optuna", "huggingface_hub", "tokenizers", "safetensors")


def resolve_mixed_precision(requested: str) -> str:
    """fp16/bf16 only on a CUDA GPU that supports it; never on CPU (bf16 there is ~70x slower)."""
    import torch

    if requested not in {"auto", "no", "fp16", "bf16"}:
        from hubtools.config import ConfigError

        raise ConfigError(f"training.mixed_precision: unknown value {requested!r}; use auto, no, fp16 or bf16")
    if requested == "no" or not torch.cuda.is_available():
        return "no"
    bf16_ok = torch.cuda.is_bf16_supported()
    if requested == "auto":
        return "bf16" if bf16_ok else "fp16"
    if requested == "bf16" and not bf16_ok:
        return "fp16"
    return requested


def collect_environment(mixed_precision: str, optimizer: str, world_size: int, backend: str | None, threads_reason: str | None = None) -> dict[str, Any]:
    import torch

    devices = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    return {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_threads_reason": threads_reason,
        "gpus": devices,
        "world_size": world_size,
        "distributed_backend": backend,
        "mixed_precision": mixed_precision,
        "optimizer": optimizer,
        "libraries": {name: library_version(name) for name in LIBRARIES},
        "git_commit": _git_commit(),
    }


def base_model_revision(model: str, cache_dir: Path | None = None) -> str | None:
    """The Hub commit of the base model this process loaded (the cached snapshot `main` pointed to); None for a local folder.

    Args:
        model: the config's `model`, a Hub id or a folder.
        cache_dir: the Hub cache it was downloaded into (None: the process's).
    """
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    if os.path.exists(model):
        return None
    try:
        cached = try_to_load_from_cache(model, "config.json", cache_dir=cache_dir)
    except HFValidationError:
        return None
    return os.path.basename(os.path.dirname(cached)) if isinstance(cached, str) else None


def library_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None
