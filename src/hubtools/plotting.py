"""Matplotlib set-up shared by every PNG hubtools writes (confusion matrix, reliability diagram, comparisons).

Labels are user data and may hold emoji that the default font (DejaVu Sans) lacks. Fonts that cover them
(Symbola, Noto Emoji, ... when installed, e.g. Debian's `fonts-symbola`) are added as fallbacks; a character
no installed font covers is written as its Unicode name ("😀" -> "(grinning face)"), so no label renders
as empty boxes and matplotlib never warns "Glyph missing".
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

BASE_FONT = "DejaVu Sans"
FALLBACK_FONTS = ("Symbola", "Noto Emoji", "Noto Sans Symbols 2", "Noto Sans Symbols", "Segoe UI Emoji", "Apple Color Emoji")


@functools.lru_cache(maxsize=1)
def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, with the base font and the installed fallback fonts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["font.family"] = [name for name, _ in font_files()]
    return plt


@functools.lru_cache(maxsize=1)
def font_files() -> tuple[tuple[str, str], ...]:
    """(family, file) of the base font and each installed fallback font, in fallback order."""
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return tuple(
        (name, font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False))
        for name in (BASE_FONT, *FALLBACK_FONTS)
        if name in installed
    )


@functools.lru_cache(maxsize=1)
def covered_code_points() -> frozenset[int]:
    """Code points the configured fonts themselves map (matplotlib's last-resort boxes do not count)."""
    from fontTools.ttLib import TTFont

    points: set[int] = set()
    for _, path in font_files():
        with TTFont(str(path), fontNumber=0, lazy=True) as font:
            points.update(font.getBestCmap() or {})
    return frozenset(points)


def has_glyph(character: str) -> bool:
    return ord(character) in covered_code_points()


def drawable(text: str) -> str:
    """`text` with every character no installed font can draw replaced by its Unicode name in brackets."""
    pieces = []
    for character in str(text):
        if character.isspace() or has_glyph(character):
            pieces.append(character)
        elif unicodedata.category(character) not in ("Mn", "Mc", "Cf"):  # variation selectors, joiners: nothing to draw
            pieces.append(f"({unicodedata.name(character, f'U+{ord(character):04X}').lower()})")
    return "".join(pieces)
