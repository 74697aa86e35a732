"""The mini-program access token: from `/cgi-bin/stable_token` (normal mode), shared by
every container through the table, refreshed before it expires by ONE caller.

A token kept in the table is used until `margin_s` before it expires. When it must be
fetched, the caller that wins a short lease (a conditional write in the table) fetches
and stores it; the others wait for it to appear instead of fetching their own (each
fetch counts against WeChat's daily quota). Within a container a lock does the same
for threads. A token WeChat rejects (40001) is refreshed once, by whoever first notices,
unless someone already replaced it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredToken:
    token: str
    expires_at: float  # epoch seconds
    fetched_at: float = 0.0


class TokenStore(Protocol):
    def get(self) -> StoredToken | None: ...

    def put(self, token: StoredToken) -> None: ...

    def try_lease(self, owner: str, seconds: float) -> bool:
        """Take the refresh lease if nobody holds an unexpired one."""

    def release(self, owner: str) -> None: ...


# fetch(force_refresh) -> (access_token, expires_in seconds)
Fetch = Callable[[bool], tuple[str, int]]
RECENT_S = 30


class AccessTokens:
    def __init__(self, fetch: Fetch, store: TokenStore, margin_s: float = 120, lease_s: float = 10,
                 wait_s: float = 8, now: Callable[[], float] = time.time):
        self.fetch = fetch
        self.store = store
        self.margin_s = margin_s
        self.lease_s = lease_s
        self.wait_s = wait_s
        self.now = now
        self.fetches = 0
        self._memo: StoredToken | None = None
        self._lock = threading.Lock()
        self._owner = secrets.token_hex(8)

    def _fresh(self, t: StoredToken | None) -> bool:
        """Usable: not within `margin_s` of expiry, or (near it) fetched in the last
        RECENT_S. Normal-mode stable_token answers the same token until it expires, so
        near the end a fetch may not renew it; it is then asked at most every RECENT_S."""
        if t is None:
            return False
        now = self.now()
        return t.expires_at - self.margin_s > now or (t.fetched_at > now - RECENT_S and t.expires_at > now + 5)

    def get(self) -> str:
        memo = self._memo
        if self._fresh(memo):
            return memo.token
        with self._lock:
            stored = self.store.get()
            if self._fresh(stored):
                self._memo = stored
                return stored.token
            return self._refresh(stale=stored, force=False)

    def refresh(self, rejected: str) -> str:
        """WeChat rejected `rejected` (40001): a new token, fetched once across callers."""
        with self._lock:
            stored = self.store.get()
            if self._fresh(stored) and stored.token != rejected:
                self._memo = stored
                return stored.token  # someone already replaced it
            self._memo = None
            return self._refresh(stale=stored, force=False, rejected=rejected)

    def _refresh(self, stale: StoredToken | None, force: bool, rejected: str | None = None) -> str:
        deadline = self.now() + self.wait_s
        while True:
            if self.store.try_lease(self._owner, self.lease_s):
                try:
                    # Another caller may have stored a new token between our read and the lease.
                    stored = self.store.get()
                    if self._fresh(stored) and stored != stale and (rejected is None or stored.token != rejected):
                        self._memo = stored
                        return stored.token
                    token, expires_in = self.fetch(force)
                    self.fetches += 1
                    if rejected is not None and token == rejected and not force:
                        # Normal mode answered the rejected token again: force a new one.
                        token, expires_in = self.fetch(True)
                        self.fetches += 1
                    fresh = StoredToken(token, self.now() + int(expires_in), self.now())
                    self.store.put(fresh)
                    self._memo = fresh
                    return token
                finally:
                    self.store.release(self._owner)
            # Another caller is fetching: wait for its token.
            time.sleep(0.05)
            stored = self.store.get()
            if self._fresh(stored) and stored != stale and (rejected is None or stored.token != rejected):
                self._memo = stored
                return stored.token
            if self.now() > deadline:
                raise TimeoutError("no access token: the caller refreshing it did not finish")
