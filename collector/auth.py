"""API keys on requests: Bearer, ``x-api-key`` or Basic (Langfuse SDKs send the key as the
password). Lookups are cached briefly so a revoked key stops working within the TTL."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from core import keys
from core.errors import AuthenticationError, PermissionDeniedError
from core.keys import Principal

#: Bound on cached lookups (unknown keys included, so guessing cannot grow memory).
MAX_CACHED_KEYS = 10_000


def credential_from(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries, or None."""
    authorization = headers.get("authorization", "").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


class Authenticator:
    """Resolves keys to principals through a small TTL cache keyed by the key's HMAC."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        pepper: str,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory, self._pepper, self._ttl, self._clock = factory, pepper, ttl_s, clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def principal(self, secret: str | None, scope: frozenset[str]) -> Principal:
        """The key's principal if it holds one of ``scope``; 401/403 errors otherwise."""
        if not secret:
            raise AuthenticationError("an API key is required (Authorization: Bearer <key>)")
        found = self._lookup(secret)
        if found is None:
            raise AuthenticationError("unknown or revoked API key")
        if not found.scopes & scope:
            raise PermissionDeniedError(f"this key needs one of the scopes {sorted(scope)}")
        return found

    def _lookup(self, secret: str) -> Principal | None:
        digest = keys.hash_key(secret, self._pepper)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._factory() as session:
            found = keys.authenticate(session, secret, self._pepper)
        with self._lock:
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= MAX_CACHED_KEYS:
                    self._cache.clear()
            self._cache[digest] = (now + self._ttl, found)
        return found
