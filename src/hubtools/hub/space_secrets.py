"""Space secrets at rest: hub.sqlite holds them encrypted (Fernet) with a key file only the Hub's OS user can read.

The key lives in the Hub root (`spaces-secrets.key`, 0600, in a root that is itself 0700), so neither a Space app (it
runs as another user) nor a copy of hub.sqlite alone reveals a secret. Values written by an older Hub, in plain text,
are encrypted the first time this Hub opens them (`encrypt_plaintext_secrets`).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from hubtools.hub.store import HubStore, Repo

KEY_FILE = "spaces-secrets.key"
PREFIX = "fernet:"  # marks an encrypted value; anything else is a plain-text value from an older Hub


class SecretBox:
    """Encrypts and decrypts the Space secret values the store keeps."""

    def __init__(self, root: Path) -> None:
        self._fernet = Fernet(_load_key(Path(root) / KEY_FILE))

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            raise ValueError(f"a Space secret cannot be decrypted with {KEY_FILE}: was the key file replaced?") from error

    def secrets(self, store: HubStore, repo: Repo) -> dict[str, str]:
        """The Space's secrets, decrypted: only for its app's environment and for masking its logs."""
        return {key: self.open(setting.value) for key, setting in store.space_settings(repo, "secret").items()}

    def encrypt_plaintext_secrets(self, store: HubStore) -> int:
        """Encrypt every secret an older Hub stored in plain text; returns how many."""
        count = 0
        for repo in store.list_repos():
            if repo.type != "space":
                continue
            for setting in store.space_settings(repo, "secret").values():
                if not setting.value.startswith(PREFIX):
                    store.set_space_setting(repo, "secret", setting.key, self.seal(setting.value), setting.description)
                    count += 1
        return count


def _load_key(path: Path) -> bytes:
    """The Fernet key, created once per root and readable by the Hub's OS user only."""
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this Hub created it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes()

