"""Names and paths the embedded Hub accepts: repo ids by huggingface_hub's own rules, branches and tags by git's
ref rules (narrowed to characters a URL and an HTML page carry safely), file paths relative and bounded.

File paths are stored in Unicode NFC (an NFD `café.txt` names the same file as the NFC one, as on macOS), each
component at most 255 bytes (what file systems accept, so stock clients can download it), and without the
bidirectional controls that make a name display as another one.
"""

from __future__ import annotations

import re
import unicodedata

from huggingface_hub.utils import HFValidationError, validate_repo_id

from hubtools.hub.limits import MAX_PATH_CHARS
from hubtools.hub.errors import InvalidRequest, UnprocessablePath

REF_CHARACTERS = re.compile(r"^[A-Za-z0-9._/-]+$")
MAX_REF_CHARS = 255
MAX_PATH_COMPONENT_BYTES = 255  # NAME_MAX of ext4, APFS and NTFS (in UTF-16 units there)
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FULL_REF_PREFIXES = {"branch": "refs/heads/", "tag": "refs/tags/"}


def validate_repo_name(namespace: str, name: str) -> None:
    """`namespace/name` must be addressable by stock clients (`a--b`, `a..b`, `abc-`, `x.git` are not)."""
    try:
        validate_repo_id(f"{namespace}/{name}")
    except HFValidationError as exc:
        raise InvalidRequest(f"Invalid repo name {namespace}/{name}: {exc}", "InvalidRepoName") from None


def validate_namespace(name: str) -> None:
    """A user or organization name: what a repo id's namespace may be (so `__DUMMY_HUB_USER__` is one)."""
    try:
        if "/" in name:
            raise HFValidationError("a name has no '/'")
        validate_repo_id(name)
    except HFValidationError as exc:
        raise InvalidRequest(f"Invalid user or organization name {name!r}: {exc}", "InvalidName") from None


def validate_ref_name(name: object, kind: str = "branch") -> str:
    """A branch or tag name: git's check-ref-format rules, and only letters, digits, '.', '_', '-', '/'."""
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Invalid {kind} name {name!r}: it must be a non-empty string", "InvalidRefName")
    full_prefix = FULL_REF_PREFIXES.get(kind)
    if full_prefix and name.startswith(full_prefix):  # `refs/heads/x` names branch `x`, as in git
        name = name[len(full_prefix):]
    if name.startswith("refs/"):
        raise InvalidRequest(f"Invalid {kind} name {name!r}: names under 'refs/' are reserved", "InvalidRefName")
    components = name.split("/")
    if (
        not REF_CHARACTERS.match(name)
        or len(name) > MAX_REF_CHARS
        or name.startswith("-")
        or name.endswith((".", "/"))
        or ".." in name
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        raise InvalidRequest(
            f"Invalid {kind} name {name!r}: use letters, digits, '.', '_', '-' and '/' (git ref rules: no '..',"
            f" no component starting with '.' or ending with '.lock', at most {MAX_REF_CHARS} characters)",
            "InvalidRefName",
        )
    return name


def validate_path(path: object) -> str:
    """A repo path in NFC: relative, no `..`/`.` segments, no empty segments, no control or bidi characters,
    components of at most 255 bytes, bounded length."""
    if not isinstance(path, str) or not path:
        raise InvalidRequest(f"Invalid file path {path!r}: must be a non-empty string", "InvalidPath")
    path = unicodedata.normalize("NFC", path)
    segments = path.split("/")
    if path.startswith(("..\\", "\\")):  # leaves the repo once a Windows client reads '\' as a separator
        raise UnprocessablePath(f"Invalid file path {path!r}: it must not start with '..\\' or '\\'", "InvalidPath")
    if (
        path.startswith("/")
        or any(seg in ("", ".", "..") for seg in segments)
        or any(ord(c) < 32 or c == "\x7f" or 0xD800 <= ord(c) <= 0xDFFF for c in path)
        or segments[0] == ".git"
    ):
        raise InvalidRequest(
            f"Invalid file path {path!r}: use a relative path without '..', '.', empty segments or control characters",
            "InvalidPath",
        )
    if any(c in BIDI_CONTROLS for c in path):
        raise InvalidRequest(f"Invalid file path {path!r}: bidirectional control characters are not allowed", "InvalidPath")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidRequest(f"Invalid file path {path[:80]!r}...: longer than {MAX_PATH_CHARS} characters", "InvalidPath")
    long_segment = next((seg for seg in segments if len(seg.encode()) > MAX_PATH_COMPONENT_BYTES), None)
    if long_segment is not None:
        raise InvalidRequest(
            f"Invalid file path {path[:80]!r}...: component {long_segment[:40]!r}... is longer than"
            f" {MAX_PATH_COMPONENT_BYTES} bytes", "InvalidPath",
        )
    return path


def checked_text(value: object, what: str, low: int, high: int) -> str:
    """`value` stripped, when a string of `low` to `high` characters (discussion titles, descriptions, comments)."""
    text = value.strip() if isinstance(value, str) else ""
    if not low <= len(text) <= high:
        raise InvalidRequest(f"The {what} must have {low} to {high} characters, got {len(text)}")
    return text
