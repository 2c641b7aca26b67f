"""Helpers shared by the embedded Hub's test modules: an org, unique repo ids, a writer token, a fresh repo,
whether a Space app answers, whether processes are gone, and a server process's memory figures."""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

ORG = "acme"


def unique(prefix: str) -> str:
    return f"{ORG}/{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def writer(hub) -> str:
    return hub.token("alice", [ORG])


@pytest.fixture()
def repo(hub, writer) -> str:
    repo_id = unique("repo")
    hub.api(writer).create_repo(repo_id)
    return repo_id


def serves(url: str) -> bool:
    """Whether a (Space app) URL answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False
def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a container's init may never reap orphans)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def within(condition: Callable[[], bool], seconds: float = 60) -> bool:
    """Whether `condition` holds within `seconds` (checked every 0.1 s)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def gone_within(pids: list[int], seconds: float = 60) -> bool:
    return within(lambda: not any(alive(pid) for pid in pids), seconds)


def proc_status_kb(pid: int, field: str) -> int:
    """A kB figure of /proc/PID/status: VmRSS, VmHWM (the peak; writing 5 to /proc/PID/clear_refs resets it), RssAnon..."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1])


def write_tiny_bert(folder: Path) -> int:
    """A random 1-layer BERT classifier (negative/positive) with MiniLM's tokenizer, saved as safetensors into
    `folder`; returns its parameter count."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from trained_run import base_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, id2label={0: "negative", 1: "positive"},
                        label2id={"negative": 0, "positive": 1})
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.state_dict().values())
