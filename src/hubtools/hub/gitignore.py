""".gitignore rules as git reads them, for preupload's `shouldIgnore` (huggingface.co skips ignored files).

Supported: comments, blank lines, `!` negation, trailing `/` (directories only), leading or inner `/` (anchored
to the repo root), `*`, `?`, `[...]` and `**`. As in git, a file inside an ignored directory stays ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    negated: bool
    directories_only: bool


def _glob_to_regex(glob: str) -> str:
    out, index = [], 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("/**", index) and index + 3 == len(glob):
            out.append("/.*")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif glob[index] == "*":
            out.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            out.append("[^/]")
            index += 1
        elif glob[index] == "[" and (end := glob.find("]", index + 2)) != -1:
            body = glob[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            index = end + 1
        else:
            out.append(re.escape(glob[index]))
            index += 1
    return "".join(out)


def parse(text: str) -> list[Rule]:
    rules = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line[1:] if negated else line.removeprefix("\\")
        directories_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        body = _glob_to_regex(line.lstrip("/"))
        rules.append(Rule(re.compile(("^" if anchored else "^(?:.*/)?") + body + "$"), negated, directories_only))
    return rules


def _matches(rules: list[Rule], path: str, is_directory: bool) -> bool | None:
    """The last rule that matches decides: True (ignored), False (re-included), None (no rule matches)."""
    verdict = None
    for rule in rules:
        if (is_directory or not rule.directories_only) and rule.pattern.match(path):
            verdict = not rule.negated
    return verdict


def is_ignored(rules: list[Rule], path: str) -> bool:
    """Whether `path` (a file) is ignored by `rules`, itself or through one of its folders."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        if _matches(rules, "/".join(parts[:depth]), is_directory=True):
            return True
    return bool(_matches(rules, path, is_directory=False))
