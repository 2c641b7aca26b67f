"""Where the shipped templates (`cards/`, `spaces/`) and `configs/` live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_ROOT = _PACKAGE_DIR.parent.parent


def data_dir(name: str) -> Path:
    """Return the folder `name` ("cards" or "spaces"): inside the wheel, else at the checkout root."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _CHECKOUT_ROOT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hubtools data folder '{name}' not found; reinstall hubtools (pip install -e .)")


def cards_dir() -> Path:
    return data_dir("cards")


def spaces_dir() -> Path:
    return data_dir("spaces")


def configs_dir() -> Path:
    return data_dir("configs")
