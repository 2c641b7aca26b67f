"""Space secrets and variables; secret values leave the store only as the app's environment."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hubtools.hub.store.database import Database
from hubtools.hub.store.models import Repo


@dataclass(frozen=True)
class SpaceSetting:
    key: str
    value: str
    description: str | None
    updated: float


class SpaceSettingStore(Database):
    def set_space_setting(self, repo: Repo, kind: str, key: str, value: str, description: str | None) -> None:
        """Add or replace a Space `secret` or `variable`."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO space_settings VALUES (?, ?, ?, ?, ?, ?)",
                (repo.pk, kind, key, value, description, time.time()),
            )

    def delete_space_setting(self, repo: Repo, kind: str, key: str) -> bool:
        with self._write() as db:
            return db.execute(
                "DELETE FROM space_settings WHERE repo_id = ? AND kind = ? AND key = ?", (repo.pk, kind, key)
            ).rowcount > 0

    def space_settings(self, repo: Repo, kind: str) -> dict[str, SpaceSetting]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM space_settings WHERE repo_id = ? AND kind = ? ORDER BY key", (repo.pk, kind)
            )
            return {r["key"]: SpaceSetting(r["key"], r["value"], r["description"], r["updated"]) for r in rows}
