"""In-memory twin of layers/storage/links.py: a claim lands only on a free id or over the
claim it was read as; finishing and releasing only while the claim is still ours. Keys:
("link", id) -> Link. Also a fake of WeChat's link calls and of the code bucket."""

from __future__ import annotations

from layers.domain.links import Link, LinkStatus
from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable
from tests.fakes.memory import MemoryStore


class MemoryLinks:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, link_id: str) -> Link | None:
        return self.store.get(("link", link_id))

    def _ours(self, link: Link) -> bool:
        stored = self.store.items.get(("link", link.link_id))
        return stored is not None and stored.status == LinkStatus.PENDING and stored.claimed_at == link.claimed_at

    def claim(self, link: Link, replacing: Link | None) -> bool:
        with self.store.lock:
            if (replacing is None and ("link", link.link_id) in self.store.items) or (
                    replacing is not None and not self._ours(replacing)):
                return False
            self.store.items[("link", link.link_id)] = link
            return True

    def finish(self, link: Link) -> bool:
        with self.store.lock:
            if not self._ours(link):
                return False
            self.store.items[("link", link.link_id)] = link
            return True

    def release(self, link: Link) -> None:
        with self.store.lock:
            if self._ours(link):
                del self.store.items[("link", link.link_id)]

    def listed(self, channel: str | None, limit: int, cursor: dict | None):
        found = [v for v in self.store.scan(("link",)) if isinstance(v, Link) and v.status == LinkStatus.READY
                 and (channel is None or v.channel == channel)]
        found.sort(key=lambda v: f"{v.created_at}#{v.link_id}", reverse=True)
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(found)
        return found[start:start + limit], ({"offset": start + limit} if more else None)


class FakeLinkApi:
    """WeChat's link calls: `failures` is a list of exceptions the next calls raise (the
    real client has already retried an unknown outcome when it raises WeChatUnavailable)."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.failures: list[Exception] = []
        self.during = None  # called inside each call (a concurrent request, in a test)

    def _next(self, *call):
        self.calls.append(call)
        if self.during is not None:
            self.during()
        if self.failures:
            raise self.failures.pop(0)

    def generate_url_link(self, path: str, query: str, expire_interval_days: int) -> str:
        self._next("url_link", path, query, expire_interval_days)
        return f"https://wxaurl.cn/fake{len(self.calls)}"

    def generate_scheme(self, path: str, query: str, expire_interval_days: int) -> str:
        self._next("url_scheme", path, query, expire_interval_days)
        return f"weixin://dl/business/?t=fake{len(self.calls)}"

    def get_unlimited_code(self, scene: str, page: str, check_path: bool = False, retries: int = 0):
        self._next("qrcode", page, scene, check_path)
        return b"\x89PNG\r\n\x1a\n" + scene.encode(), "image/png"


class FakeImages:
    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.fail_puts = 0

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.fail_puts:
            self.fail_puts -= 1
            raise OSError("bucket not writable")
        self.objects[key] = data


__all__ = ["FakeImages", "FakeLinkApi", "MemoryLinks", "WeChatApiError", "WeChatUnavailable"]
