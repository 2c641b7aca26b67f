"""Users, organization memberships and tokens (stored as sha256 hashes, never in clear)."""

from __future__ import annotations

import hashlib
import secrets
import time

from hubtools.hub.errors import Conflict
from hubtools.hub.store.database import Database
from hubtools.hub.store.models import Identity


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityStore(Database):
    def issue_token(
        self, user: str, orgs: tuple[str, ...] | list[str] = (), read_only: bool = False, value: str | None = None
    ) -> str:
        """A new random token for `user` (created if new), or `value` registered as one; the user joins `orgs`."""
        token = value or "hf_" + secrets.token_urlsafe(30)
        now = time.time()
        with self._write() as db:
            owner = db.execute("SELECT user FROM tokens WHERE token_hash = ?", (hash_token(token),)).fetchone()
            if owner is not None and owner["user"] != user:
                raise Conflict("This token value is already registered for another user: choose another value")
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?)", (user, now))
            for org in orgs:
                db.execute("INSERT OR IGNORE INTO memberships VALUES (?, ?)", (user, org))
            db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)", (hash_token(token), user, int(read_only), now))
        return token

    def revoke_token(self, token: str) -> bool:
        """Delete a token (and with it every Xet CAS token issued for it); False when it was not stored."""
        with self._write() as db:
            return db.execute("DELETE FROM tokens WHERE token_hash = ?", (hash_token(token),)).rowcount > 0

    def identity(self, token: str) -> Identity | None:
        return self.identity_by_token_hash(hash_token(token))

    def identity_by_token_hash(self, token_hash: str) -> Identity | None:
        """The identity of a stored token, by the hash it is stored under (None once revoked)."""
        with self._connect() as db:
            row = db.execute("SELECT user, read_only FROM tokens WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return None
            orgs = [r["org"] for r in db.execute("SELECT org FROM memberships WHERE user = ? ORDER BY org", (row["user"],))]
        return Identity(user=row["user"], orgs=tuple(orgs), read_only=bool(row["read_only"]))

    def set_full_name(self, name: str, full_name: str) -> None:
        """The display name of a user or an organization (whoami's `fullname`)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO full_names VALUES (?, ?)", (name, full_name))

    def full_names(self, names: list[str]) -> dict[str, str]:
        """Each name's display name: the one set, else the name itself."""
        with self._connect() as db:
            rows = db.execute(
                f"SELECT name, full_name FROM full_names WHERE name IN ({', '.join('?' * len(names))})", names
            ).fetchall()
        known = {row["name"]: row["full_name"] for row in rows}
        return {name: known.get(name, name) for name in names}

    def set_private_by_default(self, namespace: str, private: bool) -> None:
        """Whether repos created in `namespace` without a visibility are private (an Enterprise org's setting)."""
        with self._write() as db:
            if private:
                db.execute("INSERT OR IGNORE INTO private_by_default VALUES (?)", (namespace,))
            else:
                db.execute("DELETE FROM private_by_default WHERE namespace = ?", (namespace,))

    def is_private_by_default(self, namespace: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM private_by_default WHERE namespace = ?", (namespace,)).fetchone() is not None
