"""Checks on a model folder downloaded from a repo someone else wrote, made before any model is built from it.

A repo is untrusted input (`audit`, `reproduce`, `evaluate` on a published model, the embedded Hub's
widget). `check_model_folder` refuses, with one line naming the repo and the file:

- repo code: Python files or an `auto_map` in config.json (hubtools never sets `trust_remote_code`);
- weights that are not safetensors (a pickle is never unpickled), a safetensors header that lies about
  its offsets, or weights past `max_bytes`;
- a config.json that does not describe the weights: the model the config would build is instantiated on
  PyTorch's meta device (no memory), and its parameter count and shapes must match the safetensors
  headers. A 1 kB config with huge dimensions is refused here instead of allocating gigabytes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from hubtools.errors import InputError

CONFIG_FILE = "config.json"
MAX_CONFIG_BYTES = 1_000_000
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on its JSON header
MAX_LAYERS = 256  # bounds the modules a meta-device build creates
MAX_DIMENSION = 10_000_000  # any integer setting past this (vocabulary, width, positions) is not a text classifier's
PARAMETER_TOLERANCE = 0.02  # buffers saved by older versions, tied weights stored twice
DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


class UntrustedModelError(InputError):
    """A model folder from a repo that hubtools refuses to build (code, pickles, or a config that lies)."""


@dataclass(frozen=True)
class ModelFiles:
    """What the checks found: the weights' tensors (name -> shape) and their size."""

    shapes: dict[str, tuple[int, ...]]
    parameters: int
    weight_bytes: int


def remote_code_files(folder: Path, repo_id: str) -> list[str]:
    """The repo's Python files and config.json's `auto_map` entries: code `trust_remote_code` would run."""
    found = sorted(str(path.relative_to(folder)) for path in folder.rglob("*.py"))
    config = _read_config(folder, repo_id) if (folder / CONFIG_FILE).is_file() else {}
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict):
        found += [f"auto_map {key} -> {value}" for key, value in sorted(auto_map.items())]
    return found


def safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) from a safetensors file's header, after checking every offset lies in the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"declares a {length}-byte header in a {size}-byte file")
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"header is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    data_bytes = size - 8 - length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
            width = DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"tensor {name!r} has a malformed header entry") from error
        count = 1
        for dimension in shape:
            count *= dimension
        if min(shape, default=0) < 0 or not 0 <= start <= end <= data_bytes or end - start != count * width:
            raise ValueError(f"tensor {name!r} {list(shape)} does not fit its offsets {start}-{end} in the file")
        tensors[name] = (dtype, shape)
    return tensors


def check_model_folder(folder: Path, repo_id: str, max_bytes: int) -> ModelFiles:
    """Refuse (UntrustedModelError, one line) a folder hubtools must not build a model from; see the module doc."""
    code = remote_code_files(folder, repo_id)
    if code:
        raise UntrustedModelError(
            f"{repo_id}: the model needs its own code ({', '.join(code[:4])}{' …' if len(code) > 4 else ''}), "
            "which hubtools never runs (trust_remote_code stays off); audit a model that loads with transformers' own classes"
        )
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        pickles = sorted(path.name for path in folder.iterdir() if path.suffix in (".bin", ".pt", ".pth", ".ckpt", ".pkl"))
        found = f" (only {', '.join(pickles)}: pickles, which hubtools never loads)" if pickles else ""
        raise UntrustedModelError(f"{repo_id}: no *.safetensors weights{found}; convert the weights to safetensors")
    weight_bytes = sum(path.stat().st_size for path in weights)
    if weight_bytes > max_bytes:
        raise UntrustedModelError(f"{repo_id}: its weights are {weight_bytes:,} bytes, over the {max_bytes:,} this machine allows for a model")
    shapes: dict[str, tuple[int, ...]] = {}
    for path in weights:
        try:
            shapes.update({name: shape for name, (_, shape) in safetensors_header(path).items()})
        except (OSError, ValueError) as error:
            raise UntrustedModelError(f"{repo_id}: {path.name} is not valid safetensors ({error})") from error
    parameters = sum(_count(shape) for shape in shapes.values())
    _check_config(folder, repo_id, shapes, parameters)
    return ModelFiles(shapes, parameters, weight_bytes)


def _count(shape: tuple[int, ...]) -> int:
    count = 1
    for dimension in shape:
        count *= dimension
    return count


def _read_config(folder: Path, repo_id: str) -> dict:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise UntrustedModelError(f"{repo_id}: has no {CONFIG_FILE}, so transformers cannot tell which model it is")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UntrustedModelError(f"{repo_id}: {CONFIG_FILE} is {path.stat().st_size:,} bytes, over {MAX_CONFIG_BYTES:,}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UntrustedModelError(f"{repo_id}: {CONFIG_FILE} is not JSON ({error}); fix the file in the repo") from error
    if not isinstance(config, dict):
        raise UntrustedModelError(f"{repo_id}: {CONFIG_FILE} is not a JSON object")
    return config


def _oversized_settings(config: dict) -> list[str]:
    def walk(value: object, key: str) -> list[str]:
        if isinstance(value, dict):
            return [found for name, item in value.items() for found in walk(item, f"{key}.{name}" if key else str(name))]
        if isinstance(value, int) and not isinstance(value, bool):
            limit = MAX_LAYERS if "layers" in key.rsplit(".", 1)[-1] else MAX_DIMENSION
            return [f"{key}={value}"] if abs(value) > limit else []
        return []

    return walk({key: value for key, value in config.items() if key not in ("id2label", "label2id")}, "")


def _check_config(folder: Path, repo_id: str, shapes: dict[str, tuple[int, ...]], parameters: int) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    oversized = _oversized_settings(_read_config(folder, repo_id))
    if oversized:
        raise UntrustedModelError(f"{repo_id}: {CONFIG_FILE} sets {', '.join(oversized[:3])}: larger than any text classifier; refusing to build it")
    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(config, trust_remote_code=False)
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError, OSError) as error:
        raise UntrustedModelError(f"{repo_id}: transformers cannot build a classifier from its {CONFIG_FILE} ({error})") from error
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    described = sum(parameter.numel() for parameter in model.parameters())
    if abs(described - parameters) > PARAMETER_TOLERANCE * max(described, parameters):
        raise UntrustedModelError(
            f"{repo_id}: {CONFIG_FILE} describes a model of {described:,} parameters but the safetensors weights hold {parameters:,}; "
            "the config does not belong to these weights"
        )
    prefix = f"{model.base_model_prefix}."
    for name, shape in shapes.items():
        wanted = expected.get(name) or expected.get(prefix + name) or expected.get(name.removeprefix(prefix))
        if wanted is not None and wanted != shape:
            raise UntrustedModelError(f"{repo_id}: tensor {name} is {list(shape)} in the weights but {list(wanted)} by {CONFIG_FILE}")
