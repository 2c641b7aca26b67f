"""The run directory before training: a new run needs an empty folder, a resumed one its own config; the
last checkpoint to resume from; the command line as typed (environment.json)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hubtools.config import RunConfig, config_to_dict, load_config
from hubtools.errors import InputError
from hubtools.rundir import RunDir

MACHINE_SETTINGS = {"training.threads"}  # how this machine runs the recipe, not the recipe: may change on --resume


class RunDirError(InputError):
    """A run directory that cannot be started or resumed as asked."""


def check_run_dir(run: RunDir, config: RunConfig, resume: bool) -> None:
    """A new run needs an empty folder; a resumed one the same config as its config.yaml.

    Args:
        run: the run directory.
        config: the config this training runs with.
        resume: continue the run already in `run`.

    Raises:
        RunDirError: resuming without a config.yaml or with a different config, or starting in a folder that holds files.
    """
    if resume:
        if not run.config.exists():
            raise RunDirError(f"{run.root}: no run to resume (config.yaml missing); start it without --resume")
        saved = load_config(run.config)
        differences = _config_differences(saved, config)
        if differences:
            raise RunDirError(
                f"{run.config}: --resume with a different config ({differences[0]}); resume with the same config or start a new --output-dir"
            )
        return
    if run.root.exists() and any(run.root.iterdir()):
        raise RunDirError(f"{run.root}: already holds a run; pass --resume to continue it, or choose another --output-dir")


def _config_differences(saved: RunConfig, given: RunConfig) -> list[str]:
    def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(value, dict):
            return {k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): value}

    old, new = flatten(config_to_dict(saved)), flatten(config_to_dict(given))
    return [f"{key}: saved {old.get(key)!r}, given {new.get(key)!r}" for key in old if key not in MACHINE_SETTINGS and old.get(key) != new.get(key)]


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def launch_command() -> list[str]:
    """The command line that started this training, as typed (hide_local_folders trims paths before publishing)."""
    return command_as_typed(sys.argv, parent_command_line())


def command_as_typed(argv: list[str], parent: list[str]) -> list[str]:
    """`accelerate launch [its options] -m hubtools.train ...` when accelerate started this process (its command line is
    `parent`), `python -m hubtools.train ...` for the module run directly, `hubtools train ...` for the CLI (as a
    script or `python -m hubtools.cli`). Python sees only a package's `__main__.py` as argv[0] for `-m`."""
    program = Path(argv[0])
    if program.name == "__main__.py" and program.parent.name == "cli":  # `python -m hubtools.cli train ...`
        return ["hubtools", *argv[1:]]
    if not (program.name == "__main__.py" and program.parent.name == "train"):
        return [program.name, *argv[1:]]
    launch = next((index for index, part in enumerate(parent[:-1]) if Path(part).name == "accelerate" and parent[index + 1] == "launch"), None)
    if launch is not None:
        return ["accelerate", *parent[launch + 1 :]]
    return ["python", "-m", "hubtools.train", *argv[1:]]


def parent_command_line() -> list[str]:
    """The parent process's arguments (Linux /proc); [] where they cannot be read."""
    try:
        return Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []
