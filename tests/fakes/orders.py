"""In-memory twins of the order-side repositories: orders, refunds, outbox; the same conditions as layers/storage/ (a stale version or status fails the
part, and with it the whole transaction)."""

from __future__ import annotations

from dataclasses import replace

from layers.domain import errors, order_counts
from layers.domain import order as domain
from layers.domain.order import Event, Order
from layers.domain.refund import Refund
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryOrderRepository:
    def __init__(self, store: MemoryStore, unpaid_cap: int | None = None):
        self.store = store
        self.unpaid_cap = unpaid_cap

    def _stage_counts(self, tx: MemoryTx, user_id: str, moves: dict, unpaid: int = 0) -> None:
        """The shopper's counter item, as layers/storage/orders.py keeps it: ("unpaid", user)
        -> n, raised conditioned below the cap; ("order_counts", user) -> {status: n}."""
        if not moves and not unpaid:
            return
        key, counts_key = ("unpaid", user_id), ("order_counts", user_id)
        cap = self.unpaid_cap

        def apply(items):
            if unpaid:
                items[key] = items.get(key, 0) + unpaid
            counts = dict(items.get(counts_key) or {})
            for status, delta in moves.items():
                counts[status] = counts.get(status, 0) + delta
            items[counts_key] = counts

        tx.add(lambda items: unpaid <= 0 or items.get(key, 0) < cap, apply,
               lambda: errors.LimitExceeded(f"you already have {cap} unpaid orders", unpaid_cap=cap))

    def unpaid_count(self, user_id: str) -> int:
        return self.store.get(("unpaid", user_id)) or 0

    def counts(self, user_id: str) -> dict[str, int]:
        return dict(self.store.get(("order_counts", user_id)) or {})

    def _as_read(self, items, order: Order) -> bool:
        stored = items.get(self._key(order.order_id))
        return stored is not None and stored.version == order.version and (order.counted or not stored.counted)

    @staticmethod
    def _key(order_id: str) -> tuple:
        return ("order", order_id)

    def get(self, order_id: str, consistent: bool = False) -> Order | None:
        return self.store.get(self._key(order_id))

    def list_for_user(self, user_id: str, status: str | None, limit: int, cursor: dict | None):
        mine = sorted((o for o in self.store.scan(("order",)) if o.user_id == user_id
                       and (status is None or o.status == status)),
                      key=lambda o: (o.created_at, o.order_id), reverse=True)
        start = int((cursor or {}).get("offset", 0))
        page = mine[start:start + limit]
        more = start + limit < len(mine)
        return page, ({"offset": start + limit} if more else None)

    def due(self, queue: str, until_iso: str, limit: int = 100) -> list[Order]:
        def when(o: Order) -> str | None:
            if queue == domain.OPEN_ORDERS:
                return o.expires_at if o.status == domain.PENDING else None
            if queue == "PICKUP_ORDERS":  # layers/domain/pickup.py
                p = o.pickup or {}
                return p.get("due_at") if o.status == domain.PAID and not p.get("redeemed_at") else None
            return o.auto_confirm_at if o.status != domain.PENDING else None

        due = [(when(o), o) for o in self.store.scan(("order",))]
        return [o for w, o in sorted((d for d in due if d[0] is not None and d[0] <= until_iso),
                                     key=lambda d: d[0])][:limit]

    def stage_create(self, tx: MemoryTx, order: Order, on_exists) -> None:
        key = self._key(order.order_id)
        tx.add(lambda items: key not in items,
               lambda items: items.__setitem__(key, replace(order, counted=True)), on_exists)
        self._stage_counts(tx, order.user_id, order_counts.moves(None, order),
                           1 if self.unpaid_cap and order.status == domain.PENDING else 0)

    def stage_change(self, tx: MemoryTx, before: Order, after: Order, on_stale) -> None:
        key = self._key(before.order_id)
        tx.add(lambda items: self._as_read(items, before),
               # prepay_id is written outside transitions: keep whatever is stored.
               lambda items: items.__setitem__(key, replace(after, prepay_id=items[key].prepay_id, counted=True)),
               on_stale)
        leaves_unpaid = before.status == domain.PENDING and after.status != domain.PENDING
        self._stage_counts(tx, before.user_id, order_counts.moves(before, after),
                           -1 if self.unpaid_cap and leaves_unpaid else 0)

    def stage_delete(self, tx: MemoryTx, order: Order, on_stale) -> None:
        key = self._key(order.order_id)
        tx.add(lambda items: self._as_read(items, order), lambda items: items.pop(key), on_stale)
        self._stage_counts(tx, order.user_id, order_counts.moves(order, None),
                           -1 if self.unpaid_cap and order.status == domain.PENDING else 0)

    # -- the backfill's sources, as layers/storage/orders.py finds them --
    def uncounted_unpaid(self) -> list[Order]:
        return [o for o in self.store.scan(("order",)) if o.status == domain.PENDING and not o.counted]

    def uncounted_paid_on(self, day: str) -> list[Order]:
        from layers.domain.analytics import counts_as_sale, day_of

        return [o for o in self.store.scan(("order",)) if counts_as_sale(o) and day_of(o.paid_at) == day
                and o.status in order_counts.COUNTED and not o.counted]

    def set_prepay_id(self, order_id: str, prepay_id: str, prepay_at: str | None = None) -> bool:
        with self.store.lock:
            current = self.get(order_id)
            if current is None or current.status != domain.PENDING:
                return False
            self.store.items[self._key(order_id)] = replace(current, prepay_id=prepay_id,
                                                            prepay_at=prepay_at or current.prepay_at)
            return True

    def stage_upload_status(self, tx: MemoryTx, order_id: str, status: str) -> None:
        key = self._key(order_id)
        tx.add(lambda items: key in items and items[key].shipping is not None,
               lambda items: items.__setitem__(key, replace(items[key], shipping_upload_status=status)))


    # -- the console's order search, as layers/storage/orders.py pages it --
    def by_phone(self, phone, start_iso, end_iso, status, limit, cursor, examine=200):
        from layers.domain.order_search import normalized_phone

        upper = cursor["sk"] if cursor else end_iso
        entries = sorted(((f"{o.created_at}#{o.order_id}", o) for o in self.store.scan(("order",))
                          if normalized_phone((o.address or {}).get("phone")) == phone),
                         key=lambda e: e[0], reverse=True)
        return self._page([(sk, o, {"sk": sk}) for sk, o in entries if start_iso <= sk < upper],
                          status, limit, examine)

    def paid_in_days(self, days, status, limit, cursor, examine=200):
        from layers.clock import parse_iso
        from layers.domain.analytics import counts_as_sale, day_of

        def where(o):
            return {"day": day_of(o.paid_at), "n": int(parse_iso(o.paid_at).timestamp()), "id": o.order_id}

        def rank(w):  # newest day first, then newest paid second, then order id descending
            return days.index(w["day"]), -int(w["n"])

        paid = [o for o in self.store.scan(("order",)) if counts_as_sale(o) and day_of(o.paid_at) in days]
        ordered = sorted(sorted(paid, key=lambda o: o.order_id, reverse=True), key=lambda o: rank(where(o)))
        entries = [(None, o, where(o)) for o in ordered]
        if cursor and cursor.get("day") in days:
            entries = [e for e in entries if rank(e[2]) > rank(cursor)
                       or (rank(e[2]) == rank(cursor) and e[2]["id"] < cursor["id"])]
        return self._page(entries, status, limit, examine)

    @staticmethod
    def _page(entries, status, limit, examine):
        found = []
        for examined, (_, order, where) in enumerate(entries, start=1):
            if status is None or str(order.status) == status:
                found.append(order)
            if len(found) >= limit or examined >= examine:
                return found, where
        return found, None


class MemoryRefundRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(order_id: str, refund_id: str) -> tuple:
        return ("refund", order_id, refund_id)

    def get(self, order_id: str, refund_id: str) -> Refund | None:
        return self.store.get(self._key(order_id, refund_id))

    def for_order(self, order_id: str) -> list[Refund]:
        return self.store.scan(("refund", order_id))

    def waiting(self, status: str, limit: int = 100) -> list[Refund]:
        return sorted((r for r in self.store.scan(("refund",)) if r.status == status),
                      key=lambda r: (r.created_at, r.refund_id))[:limit]

    def stage_create(self, tx: MemoryTx, refund: Refund, on_exists) -> None:
        key = self._key(refund.order_id, refund.refund_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, refund), on_exists)

    def stage_change(self, tx: MemoryTx, before: Refund, after: Refund, on_stale) -> None:
        key = self._key(before.order_id, before.refund_id)
        tx.add(lambda items: key in items and items[key].status == before.status,
               lambda items: items.__setitem__(key, replace(after, wechat_refund_id=items[key].wechat_refund_id)),
               on_stale)

    def set_wechat_refund_id(self, refund: Refund, wechat_refund_id: str, accepted_at: str | None = None) -> None:
        key = self._key(refund.order_id, refund.refund_id)
        with self.store.lock:
            if key in self.store.items:
                stored = self.store.items[key]
                self.store.items[key] = replace(stored, wechat_refund_id=wechat_refund_id,
                                                accepted_at=accepted_at or stored.accepted_at)


class MemoryOutbox:
    def __init__(self, store: MemoryStore):
        self.store = store

    def stage(self, tx: MemoryTx, event: Event, now: str) -> None:
        message = {"event_id": event.event_id, "type": event.type, "payload": event.payload, "created_at": now}
        tx.add(lambda items: True, lambda items: items.__setitem__(("outbox", event.event_id), message))

    def get(self, event_id: str) -> dict | None:
        return self.store.get(("outbox", event_id))

    def pending(self, limit: int = 100) -> list[dict]:
        return self.store.scan(("outbox",))[:limit]

    def delete(self, event_id: str) -> None:
        with self.store.lock:
            self.store.items.pop(("outbox", event_id), None)


class RecordingPublisher:
    """Publishes by taking the event out of the outbox, as the real one does after SQS took it."""

    def __init__(self, outbox: MemoryOutbox):
        self.outbox = outbox
        self.sent: list[dict] = []

    def publish_written(self, event, now: str) -> bool:
        return self.publish(event.event_id)

    def publish(self, event_id: str) -> bool:
        message = self.outbox.get(event_id)
        if message is not None:
            self.sent.append(message)
            self.outbox.delete(event_id)
        return True

