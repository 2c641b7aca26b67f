"""The scan for secrets, and the hashes of every file to upload, in one read of each file.

A file is refused when its name looks like a credential, when it holds a token pattern (Hugging Face, AWS,
GitHub, private keys), or when it holds the token in use; the same read gives its sha256 and, for files small
enough to be regular (non-LFS) files on the Hub, its git blob id.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from hubtools.errors import HubtoolsError


SECRET_FILE_PATTERNS = (".env", ".env.*", "*.pem", "id_rsa*", "id_ed25519*", ".netrc", ".git-credentials", "*token*.txt")
SECRET_CONTENT = re.compile(
    rb"hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    rb"|AKIA[0-9A-Z]{16}"  # AWS access keys
    rb"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    rb"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
SCAN_CHUNK = 1 << 22
REGULAR_FILE_MAX = 10 * 1024 * 1024  # larger files are LFS on the Hub: only their sha256 is compared


@dataclass(frozen=True)
class FileDigest:
    """A local file's size and hashes, from the scan's one read."""

    size: int
    sha256: str
    git_blob_id: str | None  # hashed in the same read for files small enough to be regular (non-LFS) files


def scan_and_hash(files: dict[str, Path], token: str | None, space_token: str | None = None) -> dict[str, FileDigest]:
    """Refuse files that look like credentials, and hash each file in the same single read.

    Args:
        files: path in the repo -> local file.
        token: the Hub token in use; a file holding it is refused.
        space_token: the Space's read token, refused likewise.

    Returns:
        path in the repo -> its size, sha256 and (for files that can be regular, non-LFS files) git blob id.

    Raises:
        HubtoolsError: a file's name looks like a credential (`SECRET_FILE_PATTERNS`), or its bytes hold a token
            pattern, a private key or one of the tokens given.
    """
    tokens = [secret.encode() for secret in (token, space_token) if secret]
    digests = {}
    for path, local in files.items():
        name = Path(path).name
        if any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_FILE_PATTERNS):
            raise HubtoolsError(f"{local}: refusing to upload a file that looks like a secret ({name}); remove it from the run directory")
        size = local.stat().st_size
        sha256 = hashlib.sha256()
        git_blob = hashlib.sha1(b"blob %d\0" % size) if size <= REGULAR_FILE_MAX else None
        overlap = b""
        with local.open("rb") as handle:
            for chunk in iter(lambda: handle.read(SCAN_CHUNK), b""):
                window = overlap + chunk
                if SECRET_CONTENT.search(window) or any(secret in window for secret in tokens):
                    raise HubtoolsError(
                        f"{local}: contains something that looks like a token or private key; remove it before publishing"
                    )
                overlap = window[-128:]
                sha256.update(chunk)
                if git_blob is not None:
                    git_blob.update(chunk)
        digests[path] = FileDigest(size, sha256.hexdigest(), git_blob.hexdigest() if git_blob is not None else None)
    return digests
