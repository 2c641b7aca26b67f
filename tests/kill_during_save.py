"""Run as a script: kill `save_best_model` at each step that touches the run directory, and report what model/ held.

A forked child saves a changed model over the previous one and SIGKILLs itself at the N-th file-system event
(Python audit events: opening for writing, removing, renaming, the ctypes rename call) under the run directory,
for N = 1, 2, ... until a child finishes. After each kill model/ must hold the previous model or the new one, whole.
Prints one JSON line: {"states": [...], "killed": K}.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path

EVENTS = {"open", "os.remove", "os.rmdir", "os.rename", "os.replace", "shutil.rmtree", "ctypes.call_function"}


def snapshot(folder: Path) -> dict[str, bytes] | None:
    if not folder.is_dir():
        return None
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def mentions(arguments: tuple, prefix: str) -> bool:
    for argument in arguments:
        if isinstance(argument, (tuple, list)) and mentions(tuple(argument), prefix):
            return True
        if isinstance(argument, (str, bytes, os.PathLike)) and os.fsdecode(argument).startswith(prefix):
            return True
    return False


def kill_at(step: int, run_root: Path) -> None:
    seen = 0

    def hook(event: str, arguments: tuple) -> None:
        nonlocal seen
        if event not in EVENTS or not mentions(arguments, str(run_root)):
            return
        if event == "open" and not (len(arguments) > 1 and isinstance(arguments[1], str) and set(arguments[1]) & set("wax+")):
            return
        seen += 1
        if seen == step:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)


def main(work: Path, base_model: Path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    from hubtools.train.best_model import save_best_model

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8, num_labels=2)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(work / "out"), report_to=[], use_cpu=True), processing_class=tokenizer)
    run_root = work / "run"
    destination = run_root / "model"
    save_best_model(trainer, destination)
    previous = snapshot(destination)
    pristine = work / "previous-model"
    shutil.copytree(destination, pristine)
    with torch.no_grad():
        model.classifier.bias += 1.0
    save_best_model(trainer, work / "reference" / "model")
    new = snapshot(work / "reference" / "model")
    assert previous != new

    states = []
    for step in range(1, 200):
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(pristine, destination)
        child = os.fork()
        if child == 0:
            kill_at(step, run_root)
            save_best_model(trainer, destination)
            os._exit(0)
        _, status = os.waitpid(child, 0)
        held = snapshot(destination)
        states.append("previous" if held == previous else "new" if held == new else "broken" if held else "missing")
        if not os.WIFSIGNALED(status):
            break
    print(json.dumps({"states": states, "killed": sum(1 for _ in states) - 1}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
