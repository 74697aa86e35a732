"""In-memory twins of layers/storage/helps.py, bargains.py and assistance.py, with the
same conditional semantics:

- a help is put only if the helper has none on the instance (else the part's error); a
  helper's daily count goes up while below the limit (or absent);
- a shopper's count of started instances goes up while below the limit (or absent);
- a bargain's stock goes down while at least 1 is left;
- an instance changes only while it still has the version (and helps) it was read with,
  and, with `unexpired_at`, an expiry after that time; `stage_order` needs SUCCEEDED,
  the owner and an expiry after `now`.

Keys: ("help", instance_id, helper_id) -> Help, ("help_quota", campaign, helper, day) -> int,
("bargain", id) -> Bargain, ("bargain_stock", id) -> int, ("bargain_started", id, user) -> int,
("bargain_instance", id) -> BargainInstance, ("assist", id) -> AssistCampaign,
("assist_started", id, user) -> int, ("assist_instance", id) -> AssistInstance.
"""

from __future__ import annotations

from dataclasses import replace

from layers.domain import assistance as assist_domain
from layers.domain import bargain as domain
from layers.domain.assistance import AssistCampaign, AssistInstance
from layers.domain.bargain import Bargain, BargainInstance
from layers.domain.helps import Help
from tests.fakes.memory import MemoryStore, MemoryTx


def _count_below(tx: MemoryTx, key: tuple, limit: int, on_fail) -> None:
    tx.add(lambda items: items.get(key, 0) < limit,
           lambda items: items.__setitem__(key, items.get(key, 0) + 1), on_fail)


def _check_running(tx: MemoryTx, key: tuple, on_stopped) -> None:
    tx.add(lambda items: key in items and items[key].stopped_at is None, lambda items: None, on_stopped)


def _stop(tx: MemoryTx, key: tuple, stopped_at: str, on_stopped) -> None:
    tx.add(lambda items: key in items and items[key].stopped_at is None,
           lambda items: items.__setitem__(key, replace(items[key], stopped_at=stopped_at)), on_stopped)


def _versioned(tx: MemoryTx, key: tuple, before, after, on_stale, unexpired_at: str | None) -> None:
    def check(items):
        stored = items.get(key)
        return (stored is not None and stored.version == before.version and stored.helps == before.helps
                and (unexpired_at is None or stored.expires_at > unexpired_at))

    tx.add(check, lambda items: items.__setitem__(key, after), on_stale)


def _newest_first(items: list, position, limit: int, cursor: dict | None):
    """A page, newest first by `position(item)`; the cursor is the last item's position."""
    items = sorted(items, key=position, reverse=True)
    if cursor:
        items = [i for i in items if position(i) < cursor["after"]]
    page = items[:limit]
    return page, ({"after": position(page[-1])} if len(items) > limit else None)


class MemoryHelpRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def stage_help(self, tx: MemoryTx, help_: Help, on_exists) -> None:
        key = ("help", help_.instance_id, help_.helper_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, help_), on_exists)

    def stage_quota(self, tx: MemoryTx, campaign_id: str, helper_id: str, day: str, limit: int, expires_at: int,
                    on_limit) -> None:
        _count_below(tx, ("help_quota", campaign_id, helper_id, day), limit, on_limit)

    def for_instance(self, instance_id: str) -> list[Help]:
        return sorted(self.store.scan(("help", instance_id)), key=lambda h: h.seq)


class MemoryBargainRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, bargain_id: str) -> Bargain | None:
        return self.store.get(("bargain", bargain_id))

    def remaining(self, bargain_id: str) -> int:
        return self.store.get(("bargain_stock", bargain_id), 0)

    def list_bargains(self, limit: int, cursor: dict | None):
        bargains = [b for b in self.store.scan(("bargain",)) if isinstance(b, Bargain)]
        page, next_cursor = _newest_first(bargains, lambda b: f"{b.created_at}#{b.bargain_id}", limit, cursor)
        return [(b, self.remaining(b.bargain_id)) for b in page], next_cursor

    def stage_create(self, tx: MemoryTx, bargain: Bargain, on_exists) -> None:
        key = ("bargain", bargain.bargain_id)

        def apply(items):
            items[key] = bargain
            items[("bargain_stock", bargain.bargain_id)] = bargain.stock

        tx.add(lambda items: key not in items, apply, on_exists)

    def stage_count_start(self, tx: MemoryTx, bargain_id: str, user_id: str, limit: int, on_limit) -> None:
        _count_below(tx, ("bargain_started", bargain_id, user_id), limit, on_limit)

    def stage_check_running(self, tx: MemoryTx, bargain_id: str, on_stopped) -> None:
        _check_running(tx, ("bargain", bargain_id), on_stopped)

    def stage_stop(self, tx: MemoryTx, bargain_id: str, stopped_at: str, on_stopped) -> None:
        _stop(tx, ("bargain", bargain_id), stopped_at, on_stopped)

    def stage_take_stock(self, tx: MemoryTx, bargain_id: str, on_empty) -> None:
        key = ("bargain_stock", bargain_id)
        tx.add(lambda items: items.get(key, 0) >= 1, lambda items: items.__setitem__(key, items[key] - 1), on_empty)

    def stage_return_stock(self, tx: MemoryTx, bargain_id: str) -> None:
        key = ("bargain_stock", bargain_id)
        tx.add(lambda items: ("bargain", bargain_id) in items,
               lambda items: items.__setitem__(key, items.get(key, 0) + 1))


class MemoryBargainInstanceRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(instance_id: str) -> tuple:
        return ("bargain_instance", instance_id)

    def get(self, instance_id: str) -> BargainInstance | None:
        return self.store.get(self._key(instance_id))

    def due(self, until_iso: str, limit: int = 100) -> list[BargainInstance]:
        due = [i for i in self.store.scan(("bargain_instance",))
               if i.status in domain.EXPIRING and i.expires_at <= until_iso]
        return sorted(due, key=lambda i: (i.expires_at, i.instance_id))[:limit]

    def stage_create(self, tx: MemoryTx, instance: BargainInstance, on_exists) -> None:
        key = self._key(instance.instance_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, instance), on_exists)

    def stage_change(self, tx: MemoryTx, before: BargainInstance, after: BargainInstance, on_stale,
                     unexpired_at: str | None = None) -> None:
        _versioned(tx, self._key(before.instance_id), before, after, on_stale, unexpired_at)

    def stage_order(self, tx: MemoryTx, instance_id: str, user_id: str, order_id: str, now: str,
                    on_unavailable) -> None:
        key = self._key(instance_id)

        def check(items):
            stored = items.get(key)
            return (stored is not None and stored.status == domain.SUCCEEDED and stored.user_id == user_id
                    and stored.expires_at > now)

        tx.add(check, lambda items: items.__setitem__(key, domain.ordered(items[key], order_id)), on_unavailable)


class MemoryAssistCampaignRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, campaign_id: str) -> AssistCampaign | None:
        return self.store.get(("assist", campaign_id))

    def list_campaigns(self, limit: int, cursor: dict | None):
        campaigns = [c for c in self.store.scan(("assist",)) if isinstance(c, AssistCampaign)]
        return _newest_first(campaigns, lambda c: f"{c.created_at}#{c.campaign_id}", limit, cursor)

    def stage_create(self, tx: MemoryTx, campaign: AssistCampaign, on_exists) -> None:
        key = ("assist", campaign.campaign_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, campaign), on_exists)

    def stage_count_start(self, tx: MemoryTx, campaign_id: str, user_id: str, limit: int, on_limit) -> None:
        _count_below(tx, ("assist_started", campaign_id, user_id), limit, on_limit)

    def stage_check_running(self, tx: MemoryTx, campaign_id: str, on_stopped) -> None:
        _check_running(tx, ("assist", campaign_id), on_stopped)

    def stage_stop(self, tx: MemoryTx, campaign_id: str, stopped_at: str, on_stopped) -> None:
        _stop(tx, ("assist", campaign_id), stopped_at, on_stopped)


class MemoryAssistInstanceRepository:
    def __init__(self, store: MemoryStore):
        self.store = store

    @staticmethod
    def _key(instance_id: str) -> tuple:
        return ("assist_instance", instance_id)

    def get(self, instance_id: str) -> AssistInstance | None:
        return self.store.get(self._key(instance_id))

    def due(self, until_iso: str, limit: int = 100) -> list[AssistInstance]:
        due = [i for i in self.store.scan(("assist_instance",))
               if i.status == assist_domain.ACTIVE and i.expires_at <= until_iso]
        return sorted(due, key=lambda i: (i.expires_at, i.instance_id))[:limit]

    def rewards(self, status: str, limit: int, cursor: dict | None):
        found = sorted((i for i in self.store.scan(("assist_instance",)) if i.reward_status == status),
                       key=lambda i: (i.succeeded_at, i.instance_id))
        start = int((cursor or {}).get("offset", 0))
        more = start + limit < len(found)
        return found[start:start + limit], ({"offset": start + limit} if more else None)

    def stage_create(self, tx: MemoryTx, instance: AssistInstance, on_exists) -> None:
        key = self._key(instance.instance_id)
        tx.add(lambda items: key not in items, lambda items: items.__setitem__(key, instance), on_exists)

    def stage_change(self, tx: MemoryTx, before: AssistInstance, after: AssistInstance, on_stale,
                     unexpired_at: str | None = None) -> None:
        _versioned(tx, self._key(before.instance_id), before, after, on_stale, unexpired_at)


class RecordingTimer:
    """The exact-time expiry timer, remembering what it was asked to schedule."""

    def __init__(self, clock):
        self.clock = clock
        self.scheduled: list[tuple[str, str]] = []

    def schedule(self, instance_id: str, expires_at: str) -> None:
        self.scheduled.append((instance_id, expires_at))

    def due(self, payload: dict) -> bool:
        from layers.clock import parse_iso

        if parse_iso(payload["expires_at"]) > self.clock.now():
            self.schedule(payload["instance_id"], payload["expires_at"])
            return False
        return True
