"""In-memory twins of layers/storage/shipping.py, and a fake of the mini-program server API
the shipping, share-code and message services call.

Keys: ("shipping", order_id) -> ShippingUpload, ("kv", "trade_managed") -> (managed, checked_at).
"""

from __future__ import annotations

import threading

from layers.domain.miniprogram import WeChatApiError
from layers.domain.shipping import ShippingUpload, UploadStatus
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryShippingUploads:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(order_id: str) -> tuple:
        return ("shipping", order_id)

    def get(self, order_id: str) -> ShippingUpload | None:
        return self.store.get(self._key(order_id))

    def due(self, until_iso: str, limit: int = 100) -> list[ShippingUpload]:
        pending = [u for u in self.store.scan(("shipping",))
                   if u.status == UploadStatus.PENDING and u.next_attempt_at
                   and f"{u.next_attempt_at}#{u.order_id}" <= f"{until_iso}#~"]
        return sorted(pending, key=lambda u: (u.next_attempt_at, u.order_id))[:limit]

    def unmanaged(self, limit: int = 100) -> list[ShippingUpload]:
        skipped = [u for u in self.store.scan(("shipping",))
                   if u.status == UploadStatus.NOT_REQUIRED and u.transaction_id]
        return sorted(skipped, key=lambda u: (u.created_at, u.order_id))[:limit]

    def stage_create(self, tx: MemoryTx, upload: ShippingUpload, on_exists) -> None:
        key = self._key(upload.order_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, upload), on_exists)

    def stage_change(self, tx: MemoryTx, before: ShippingUpload, after: ShippingUpload, on_stale) -> None:
        key = self._key(before.order_id)
        tx.add(lambda items: key in items and items[key].version == before.version,
               lambda items: items.__setitem__(key, after), on_stale)


class MemoryTradeManagementCache:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self):
        return self.store.get(("kv", "trade_managed"))

    def put(self, managed: bool, checked_at: str) -> None:
        with self.store.lock:
            self.store.items[("kv", "trade_managed")] = (managed, checked_at)


class FakeMiniProgramApi:
    """What the services call of WeChat's mini-program server API. `answers` is a list of
    errcodes the next uploads answer (0 = accepted)."""

    def __init__(self, managed: bool = True):
        self.managed = managed
        self.uploads: list[dict] = []
        self.answers: list[int] = []
        self.trade_managed_calls = 0
        self.codes: list[dict] = []
        self._lock = threading.Lock()

    def upload_shipping_info(self, body: dict) -> None:
        with self._lock:
            errcode = self.answers.pop(0) if self.answers else 0
            if errcode:
                raise WeChatApiError(errcode, "refused")
            self.uploads.append(body)

    def is_trade_managed(self) -> bool:
        self.trade_managed_calls += 1
        return self.managed

    def get_unlimited_code(self, scene: str, page: str) -> tuple[bytes, str]:
        self.codes.append({"scene": scene, "page": page})
        return b"\x89PNG\r\n\x1a\n" + scene.encode(), "image/png"
