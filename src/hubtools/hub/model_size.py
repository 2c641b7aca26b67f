"""Model size and tensor types from the safetensors headers of a commit, as huggingface.co's model_info
`safetensors` ({"parameters": {dtype: count}, "total": N}) and the "Model size" line of a model page.

Only the header is read (8-byte little-endian length, then JSON): the weights are never loaded.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from hubtools.hub.store import FileEntry, HubStore

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own ceiling


def _header(path: Path) -> dict:
    with path.open("rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise ValueError("header too large")
        header = json.loads(handle.read(length))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def parameter_counts(store: HubStore, files: dict[str, FileEntry]) -> dict[str, int]:
    """Parameters per dtype over every `*.safetensors` file; files whose header cannot be read count for nothing."""
    counts: dict[str, int] = {}
    for entry in files.values():
        if not entry.path.endswith(".safetensors"):
            continue
        try:
            header = _header(store.blob_path(entry.sha256))
        except (OSError, ValueError):
            continue
        for name, tensor in header.items():
            if name != "__metadata__" and isinstance(tensor, dict) and isinstance(tensor.get("shape"), list):
                dtype = str(tensor.get("dtype"))
                counts[dtype] = counts.get(dtype, 0) + math.prod(int(d) for d in tensor["shape"])
    return counts


def model_card_fields(card: dict, counts: dict[str, int]) -> dict:
    """model_info's `safetensors`, `model-index` and `widgetData` (the card's `widget:`), present when known,
    as huggingface_hub's ModelInfo reads them."""
    fields: dict = {}
    if counts:
        fields["safetensors"] = {"parameters": counts, "total": sum(counts.values())}
    if isinstance(card.get("model-index"), list):
        fields["model-index"] = card["model-index"]
    if isinstance(card.get("widget"), list):
        fields["widgetData"] = card["widget"]
    return fields


def format_parameters(total: int) -> str:
    """22713216 -> "22.7M params", as the model page's "Model size" reads."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if total >= scale:
            return f"{total / scale:.3g}{unit} params"
    return f"{total} params"
