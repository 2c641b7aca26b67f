"""Users, organization memberships and tokens (stored as sha256 hashes, never in clear)."""

from __future__ import annotations

import hashlib
import secrets
import time

from hubtools.hub.store.database import Database
from hubtools.hub.store.models import Identity


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityStore(Database):
    def issue_token(self, user: str, orgs: tuple[str, ...] | list[str] = (), read_only: bool = False) -> str:
        token = "hf_" + secrets.token_urlsafe(30)
        now = time.time()
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (user, now))
            for org in orgs:
                db.execute("INSERT OR IGNORE INTO memberships VALUES (?, ?)", (user, org))
            db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (hash_token(token), user, int(read_only), now))
        return token

    def identity(self, token: str) -> Identity | None:
        with self._connect() as db:
            row = db.execute("SELECT user, read_only FROM tokens WHERE token_hash = ?", (hash_token(token),)).fetchone()
            if row is None:
                return None
            orgs = [r["org"] for r in db.execute("SELECT org FROM memberships WHERE user = ? ORDER BY org", (row["user"],))]
        return Identity(user=row["user"], orgs=tuple(orgs), read_only=bool(row["read_only"]))
