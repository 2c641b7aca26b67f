"""The README's two set-up commands are the ones CI and users run; its step-by-step commands run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hubtools.ports import free_port
from newcomer_support import fresh_shell_environment

ROOT = Path(__file__).resolve().parents[1]
README_PORT = "8765"  # the port the README's block serves on; the test swaps in a free one


def bash_blocks(heading: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.split(r"\n#{2,3} ", readme.split(heading, 1)[1], maxsplit=1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, re.DOTALL)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    quickstart, tests = bash_blocks("## Set-up on a fresh machine")
    assert quickstart.endswith("hubtools quickstart") and "pytest" in tests
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci_lines
    assert tests.endswith("pytest -ra --durations=20"), "CI reports its 20 slowest tests"


def test_readme_setup_commands_keep_pip_quiet() -> None:
    """pip's hundreds of lines would bury the quickstart's ~50 (and CI's log): both installs run `pip install -q`."""
    for command in bash_blocks("## Set-up on a fresh machine"):
        installs = re.findall(r"\.venv/bin/pip install( -q)? ", command)
        assert installs == [" -q"], command


def test_readme_commands_never_rely_on_an_activated_venv() -> None:
    """Each command line starts with `.venv/bin/`, or follows `source .venv/bin/activate` in its block; so do the
    commands that produced the measured figures (the "What you get" table names subcommands, not command lines)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```bash\n(.+?)\n```", readme, re.DOTALL):
        if block.startswith("source .venv/bin/activate"):
            continue
        for line in block.splitlines():
            assert re.match(r"(python3 -m venv \.venv && )?\.venv/bin/", line), line
    measured = readme.split("## Measured here", 1)[1].split("\n## ", 1)[0]
    commands = [row.rstrip(" |").rsplit(" | ", 1)[1] for row in measured.splitlines() if row.startswith("| ") and "---" not in row][1:]
    assert commands and all(command.startswith("`.venv/bin/") or command.startswith("same") for command in commands), commands


@pytest.mark.slow
def test_step_by_step_block_runs_as_written_in_a_fresh_shell(tmp_path: Path) -> None:
    """In a checkout whose .venv is the one these tests run in, with only PATH and HOME set (train, evaluate, card,
    publish with a running Space, pipeline())."""
    (block,) = bash_blocks("### Step by step, on the embedded Hub")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.executable).parents[1])
    for name in ("configs", "accelerate_config.yaml"):
        (checkout / name).symlink_to(ROOT / name)
    script = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + block.replace(README_PORT, str(free_port()))
    done = subprocess.run(
        ["bash", "-c", script], cwd=checkout, env=fresh_shell_environment(tmp_path / "home"), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"^\[\{'label': '\w+', 'score': 0\.\d+\}\]$", done.stdout, re.MULTILINE), done.stdout[-2000:]


def test_a_link_that_names_a_file_points_to_that_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\[`?([\w./-]+\.(?:md|yaml|py))`?\]\(([^)#]+)", readme)
    assert links and [(text, target) for text, target in links if not target.endswith(text)] == []
