"""`hubtools.hub.gitignore` answers as `git check-ignore` does on the same .gitignore and paths."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hubtools.hub.gitignore import is_ignored, parse

GITIGNORE = """\
# comment, then a blank line

*.log
!keep.log
build/
/top.txt
docs/**/draft-*.md
logs/
!logs/important.txt
\\!bang.txt
data/[ab]?.csv
**/cache
"""
PATHS = [
    "a.log", "keep.log", "sub/keep.log", "sub/a.log", "build/x.bin", "src/build/y.bin", "build.txt", "top.txt",
    "sub/top.txt", "docs/draft-1.md", "docs/a/b/draft-2.md", "docs/final.md", "logs/important.txt", "logs/other.txt",
    "!bang.txt", "bang.txt", "data/a1.csv", "data/c1.csv", "data/a10.csv", "x/cache/f", "cache/g", "cache.txt", "README.md",
]


def git_ignored(folder: Path, paths: list[str]) -> set[str]:
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    answer = subprocess.run(["git", "-C", str(folder), "check-ignore", "--no-index", "--stdin"], input="\n".join(paths),
                            capture_output=True, text=True, check=False)
    assert answer.returncode in (0, 1), answer.stderr
    return set(answer.stdout.splitlines())


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_matches_git_check_ignore(tmp_path: Path) -> None:
    expected = git_ignored(tmp_path, PATHS)
    rules = parse(GITIGNORE)
    assert {path for path in PATHS if is_ignored(rules, path)} == expected
    assert {"a.log", "build/x.bin", "logs/important.txt", "!bang.txt", "x/cache/f"} <= expected  # the cases worth having
    assert not {"keep.log", "sub/top.txt", "bang.txt", "data/a10.csv"} & expected
