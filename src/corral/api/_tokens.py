"""API tokens: created once (the secret is printed, never stored), kept as SHA-256 hashes.

A token is ``corral_`` + 43 URL-safe random characters (256 bits), so a plain SHA-256 is a safe
digest (no guessing to slow down). The file ``<state dir>/api/tokens.json`` (mode 0600) lists
``{name, hash, readOnly, created, revoked}``; a server re-reads it when it changes, so a revoke is
effective on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from corral.errors import BadRequestError, ConflictError, NotFoundError
from corral.runtime.files import write_atomic

TOKEN_PREFIX = "corral_"
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


@dataclass(frozen=True)
class TokenRecord:
    name: str
    hash: str
    read_only: bool
    created: str
    revoked: str | None = None

    def to_json(self) -> dict[str, object]:
        """What ``token list`` shows: never the hash."""
        return {
            "name": self.name,
            "readOnly": self.read_only,
            "created": self.created,
            "revoked": self.revoked,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """The tokens of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "api" / "tokens.json"
        self._lock = threading.Lock()
        self._seen: tuple[float, int] | None = None
        self._by_hash: dict[str, TokenRecord] = {}

    # -- administration (the ``corral api token`` verbs) -------------------------------------

    def create(self, name: str, *, read_only: bool = False) -> str:
        """Record a new token called ``name``; returns the secret (the only time it exists)."""
        if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
            raise BadRequestError(
                f"invalid token name {name!r}",
                hint="use 1-64 letters, digits and -_.@ (for example the user or the robot it is for)",
            )
        records = self._read()
        if any(r.name == name and r.revoked is None for r in records):
            raise ConflictError(
                f"a token named {name!r} already exists",
                hint=f"revoke it first (`corral api token revoke --name {name}`) or pick another name",
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        records.append(TokenRecord(name, _digest(secret), read_only, now))
        self._write(records)
        return secret

    def records(self) -> list[TokenRecord]:
        return self._read()

    def revoke(self, name: str) -> TokenRecord:
        records = self._read()
        for i, record in enumerate(records):
            if record.name == name and record.revoked is None:
                now = datetime.now(UTC).isoformat(timespec="seconds")
                records[i] = TokenRecord(record.name, record.hash, record.read_only, record.created, now)
                self._write(records)
                return records[i]
        raise NotFoundError(f"no active token named {name!r}", hint="`corral api token list` shows them")

    # -- the server's check ----------------------------------------------------------------

    def verify(self, token: str) -> TokenRecord | None:
        """The active token ``token`` is, or None (unknown or revoked)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        table = self._table()
        digest = _digest(token)
        record = table.get(digest)
        if record is None or not hmac.compare_digest(record.hash, digest):
            return None
        return record

    def _table(self) -> dict[str, TokenRecord]:
        try:
            st = self.path.stat()
            stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._seen:
                self._by_hash = {r.hash: r for r in self._read() if r.revoked is None}
                self._seen = stamp
            return self._by_hash

    # -- the file --------------------------------------------------------------------------

    def _read(self) -> list[TokenRecord]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise BadRequestError(f"cannot read the token file {self.path}: {exc}") from None
        return [
            TokenRecord(r["name"], r["hash"], bool(r["read_only"]), r["created"], r.get("revoked"))
            for r in raw.get("tokens", [])
        ]

    def _write(self, records: list[TokenRecord]) -> None:
        text = json.dumps({"tokens": [asdict(r) for r in records]}, indent=1)
        write_atomic(self.path, text, mode=0o600, dir_mode=0o700)


__all__ = ["TOKEN_PREFIX", "TokenRecord", "TokenStore"]
