""".gitignore rules as git reads them, for preupload's `shouldIgnore` (huggingface.co skips ignored files).

Matching is pathspec's `GitIgnoreSpec` (git's wildmatch, negation, directory-only and anchored patterns). One rule
of git's is applied here, as pathspec matches files one by one: a file inside an ignored directory stays ignored
even when a later `!` names it (git never looks inside that directory).
"""

from __future__ import annotations

from pathspec import GitIgnoreSpec


def parse(text: str) -> GitIgnoreSpec:
    """The rules of a .gitignore file's text (comments and blank lines skipped).

    Args:
        text: the file's content.
    """
    return GitIgnoreSpec.from_lines(text.splitlines())


def is_ignored(rules: GitIgnoreSpec, path: str) -> bool:
    """Whether `path` (a file, relative to the repo root) is ignored by `rules`, itself or through one of its folders.

    Args:
        rules: from `parse`.
        path: a repo path such as "nested/file.bin".
    """
    parts = path.split("/")
    folders = ("/".join(parts[:depth]) + "/" for depth in range(1, len(parts)))
    return any(rules.match_file(folder) for folder in folders) or rules.match_file(path)
