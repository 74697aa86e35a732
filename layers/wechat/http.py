"""The HTTP transport of our WeChat Pay client: urllib3, which botocore has already loaded
in every handler that reaches WeChat Pay. `requests` (wechatpy's transport, on the login
and messaging paths) would add about 20 ms of imports to a cold POST /orders
for nothing the client uses: no redirects, no cookies, no retries (a retry of a money call
is ours to decide, with the same number)."""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

# Every transport made, so a container restored from a snapshot can drop the connections
# they opened before it (`drop_connections`).
_transports: weakref.WeakSet = weakref.WeakSet()


class TransportError(Exception):
    """No answer: the connection failed, or timed out (WeChat may have acted)."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Any  # case-insensitive (urllib3's HTTPHeaderDict)
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Http:
    """`request(method, url, data, headers, timeout=(connect_s, read_s)) -> Answer`, the
    shape `requests.Session.request` has, so tests may hand the client either."""

    def __init__(self) -> None:
        self._pool = None
        _transports.add(self)

    def _manager(self):
        if self._pool is None:
            import urllib3

            try:  # requests' CA bundle when it is there (as requests would verify); else the system's
                import certifi

                ca_certs = certifi.where()
            except ImportError:
                ca_certs = None
            self._pool = urllib3.PoolManager(num_pools=4, maxsize=10, ca_certs=ca_certs, retries=False)
        return self._pool

    def prime(self) -> None:
        """What the first request builds, built now, without connecting: the pool (and its
        CA bundle) and the IDNA codec urllib3 checks every new connection's host with."""
        self._manager()
        "prime.example".encode("idna")

    def drop_connections(self) -> None:
        """Close the pooled connections; the next request opens a new one."""
        if self._pool is not None:
            self._pool.clear()

    def request(self, method: str, url: str, data: bytes | None = None, headers: dict | None = None,
                timeout: tuple[float, float] = (2, 5)) -> Answer:
        import urllib3

        try:
            r = self._manager().request(method, url, body=data, headers=headers, redirect=False,
                                        timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
        except urllib3.exceptions.HTTPError as exc:  # connect, read timeout, protocol
            raise TransportError(str(exc)) from exc
        return Answer(r.status, r.headers, r.data)


def drop_connections() -> int:
    """Every transport's pooled connections closed (after a snapshot restore: they were
    opened by another container). Returns how many transports there were."""
    made = list(_transports)
    for t in made:
        t.drop_connections()
    return len(made)
