"""`--help` of every command is whole at any width: no option name, no default cut short (rich's tables cut them
with "…" without a terminal, e.g. `--replace-edited-ca…`)."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from hubtools.cli import app


def commands(group: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under `group`, with the words that call it."""
    found = [(path, group)]
    for name, command in getattr(group, "commands", {}).items():
        found += commands(command, (*path, name))
    return found


def shown_default(option: click.Option) -> str | None:
    if not option.show_default or option.default in (None, False, ()) or callable(option.default):
        return None
    default = option.default.value if hasattr(option.default, "value") else option.default
    return f"[default: {default}]"


ALL = commands(typer.main.get_command(app))


@pytest.mark.parametrize("columns", ["40", None], ids=["COLUMNS=40", "no terminal"])
@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(path) or "hubtools" for path, _ in ALL])
def test_help_names_every_option_and_default_whole(path: tuple[str, ...], command: click.Command, columns: str | None) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": columns, "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    words = result.output.split()
    unbroken = "".join(words)
    for option in (param for param in command.params if isinstance(param, click.Option)):
        for name in option.opts + option.secondary_opts:
            assert any(word.strip(",") == name for word in words), (name, result.output)
        default = shown_default(option)
        if default is not None:
            assert "".join(default.split()) in unbroken, (default, result.output)
