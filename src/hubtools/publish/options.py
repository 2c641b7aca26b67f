"""What `hubtools publish` is asked to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hubtools.space import DEFAULT_HARDWARE


@dataclass
class PublishOptions:
    """What `hubtools publish` is asked to publish, where, and how (its command-line options)."""

    repo_id: str
    run_dir: Path
    dataset_repo_id: str | None = None
    space_repo_id: str | None = None
    private: bool = False
    create_pr: bool = False
    revision: str = "main"
    commit_message: str | None = None
    dry_run: Path | None = None
    endpoint: str | None = None
    token: str | None = None
    render_card: bool = False
    verify: bool = True
    space_hardware: str = DEFAULT_HARDWARE
    space_token: str | None = None  # read-only token given to a private model's Space as its HF_TOKEN secret
    replace_edited_cards: bool = False
    mirror: bool = False  # delete every file of the repos the run lacks, not only those hubtools published there
    upload_streams: int | None = None  # xorbs in flight per Xet upload; None: HF_XET_CLIENT_AC_MAX_UPLOAD_CONCURRENCY, else 2
