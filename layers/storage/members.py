"""Members' books, their entries, top-ups and plans in the shop table.

- Book: pk `MEMBER#<user_id>`, sk `BOOK#balance` (principal, bonus) or `BOOK#points`
  (available, frozen, growth). Two items, so that one transaction may move both (a
  balance order paying with points too): DynamoDB refuses two parts on one item.
- Entry: pk `MEMBER#<user_id>`, sk `ENTRY#<book>#<cause>`: written with
  `attribute_not_exists(pk)` in the transaction that adds it to its book.
- Top-up: pk `TOPUP#<id>`, sk `TOPUP`; gsi2 `TOPUPS_REFUNDING` / `<id>` while its
  refund is in flight (the sweep asks WeChat again), `TOPUPS_UNPAID` /
  `<expires_at>#<id>` while it waits for payment (the close-expired-orders job closes it
  once its window ends). One status at a time, so one gsi2 serves both queues.
- Unpaid top-ups of a shopper: pk `USER#<user_id>`, sk `UNPAID_TOP_UPS`, `n`. Raised by
  the transaction that creates a PENDING_PAYMENT top-up, conditioned `n < cap`; lowered
  by the one transition out of PENDING_PAYMENT (paid or closed), which the top-up's
  version condition makes happen once. So the cap holds under any concurrency.
- The open top-up of a plan: pk `USER#<user_id>`, sk `OPEN_TOP_UP#<plan_id>`,
  `top_up_id`: put with `attribute_not_exists` by the creating transaction (two requests
  for one plan at once make one top-up: the other answers it), deleted by the transition
  out of PENDING_PAYMENT. Never overwritten, so that delete is always its own.
  Top-ups created before windows existed (no `expires_at`) have neither.
- Plan: pk `TOPUP_PLANS`, sk `<plan_id>`.
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.domain import errors
from layers.domain.members import (
    BALANCE,
    POINTS,
    UNPAID_TOP_UPS_CAP,
    Book,
    Movement,
    Plan,
    TopUp,
    TopUpStatus,
)
from layers.storage.base import Queued, ShopModel, changed, requeued
from layers.storage.errors import condition_failed
from layers.storage.tx import Tx

_PARTS = {BALANCE: ("principal", "bonus"), POINTS: ("available", "frozen", "growth")}

__all__ = ["BALANCE", "POINTS", "DynamoMemberRepository", "DynamoTopUpRepository"]


class BookItem(ShopModel):
    principal = NumberAttribute(null=True)
    bonus = NumberAttribute(null=True)
    available = NumberAttribute(null=True)
    frozen = NumberAttribute(null=True)
    growth = NumberAttribute(null=True)


class EntryItem(ShopModel):
    user_id = UnicodeAttribute()
    book = UnicodeAttribute()
    cause = UnicodeAttribute()
    kind = UnicodeAttribute()
    created_at = UnicodeAttribute()
    principal = NumberAttribute(default=0)
    bonus = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    frozen = NumberAttribute(default=0)
    growth = NumberAttribute(default=0)
    order_id = UnicodeAttribute(null=True)
    top_up_id = UnicodeAttribute(null=True)
    guard_available = BooleanAttribute(default=True)
    note = UnicodeAttribute(null=True)  # an owner's adjustment: who and why


class TopUpItem(Queued):
    top_up_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    plan_id = UnicodeAttribute()
    amount = NumberAttribute()
    bonus = NumberAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    request_hash = UnicodeAttribute(null=True)
    prepay_id = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    paid_at = UnicodeAttribute(null=True)
    refund_amount = NumberAttribute(default=0)
    refund_bonus = NumberAttribute(default=0)
    refund_error = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    expires_at = UnicodeAttribute(null=True)
    prepay_at = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)


class UnpaidTopUpsItem(ShopModel):
    n = NumberAttribute(null=True)


class OpenTopUpItem(ShopModel):
    top_up_id = UnicodeAttribute()


class PlanItem(ShopModel):
    plan_id = UnicodeAttribute()
    pay = NumberAttribute()
    bonus = NumberAttribute()
    created_at = UnicodeAttribute()


class LevelsItem(ShopModel):
    """pk `MEMBER_LEVELS`, sk `LEVELS`: the operator's levels."""

    levels = JSONAttribute()


LEVELS_KEY = ("MEMBER_LEVELS", "LEVELS")


def book_key(user_id: str, book: str) -> tuple[str, str]:
    return f"MEMBER#{user_id}", f"BOOK#{book}"


def to_book(user_id: str, item: BookItem | None) -> Book:
    if item is None:
        return Book(user_id)
    return Book(user_id, **{name: int(getattr(item, name) or 0)
                            for name in ("principal", "bonus", "available", "frozen", "growth")})


def _movement(item: EntryItem) -> Movement:
    return Movement(user_id=item.user_id, book=item.book, cause=item.cause, kind=item.kind,
                    created_at=item.created_at, principal=int(item.principal or 0), bonus=int(item.bonus or 0),
                    available=int(item.available or 0), frozen=int(item.frozen or 0),
                    growth=int(item.growth or 0), order_id=item.order_id, top_up_id=item.top_up_id,
                    guard_available=bool(item.guard_available), note=item.note)


class DynamoMemberRepository:
    """`layers.domain.members.MemberRepository`."""

    def get_book(self, user_id: str, book: str, consistent: bool = True) -> Book:
        try:
            return to_book(user_id, BookItem.get(*book_key(user_id, book), consistent_read=consistent))
        except BookItem.DoesNotExist:
            return Book(user_id)

    def stage_move(self, tx: Tx, movement: Movement, on_short, on_duplicate) -> None:
        actions, condition = [], None
        for name in _PARTS[movement.book]:
            delta = getattr(movement, name)
            if not delta:
                continue
            attribute = getattr(BookItem, name)
            actions.append(attribute.add(delta))
            if delta < 0 and name != "growth" and (name != "available" or movement.guard_available):
                # Taking needs it there: a missing part is 0, and fails this too.
                part = attribute >= -delta
                condition = part if condition is None else condition & part
        if actions:
            tx.update(BookItem(*book_key(movement.user_id, movement.book)), actions=actions,
                      condition=condition, on_fail=on_short)
        pk, _ = book_key(movement.user_id, movement.book)
        # An update that creates the entry, not a put: Tx reports the first failed part in
        # the order DynamoDB takes them (puts before updates), and the order's own condition
        # (an update, staged first) must win over "this cause is written" when both fail.
        values = {"user_id": movement.user_id, "book": movement.book, "cause": movement.cause,
                  "kind": movement.kind, "created_at": movement.created_at, "principal": movement.principal,
                  "bonus": movement.bonus, "available": movement.available, "frozen": movement.frozen,
                  "growth": movement.growth, "order_id": movement.order_id, "top_up_id": movement.top_up_id,
                  "guard_available": movement.guard_available, "note": movement.note}
        tx.update(EntryItem(pk, f"ENTRY#{movement.book}#{movement.cause}"),
                  actions=[getattr(EntryItem, k).set(v) for k, v in values.items() if v is not None],
                  condition=EntryItem.pk.does_not_exist(), on_fail=on_duplicate)

    def get_levels(self) -> list[dict]:
        try:
            return list(LevelsItem.get(*LEVELS_KEY).levels or [])
        except LevelsItem.DoesNotExist:
            return []

    def save_levels(self, levels: list[dict]) -> None:
        LevelsItem(*LEVELS_KEY, levels=levels).save()

    def entries(self, user_id: str, book: str, limit: int, cursor: dict | None):
        result = EntryItem.query(f"MEMBER#{user_id}", EntryItem.sk.startswith(f"ENTRY#{book}#"),
                                 consistent_read=True, limit=limit, last_evaluated_key=cursor)
        return [_movement(i) for i in result], result.last_evaluated_key

    def entries_for(self, user_id: str, book: str, cause_prefix: str) -> list[Movement]:
        return [_movement(i) for i in EntryItem.query(
            f"MEMBER#{user_id}", EntryItem.sk.startswith(f"ENTRY#{book}#{cause_prefix}"), consistent_read=True)]


# -- top-ups and plans ------------------------------------------------------------------------

def top_up_key(top_up_id: str) -> tuple[str, str]:
    return f"TOPUP#{top_up_id}", "TOPUP"


_TOPUP_FIELDS = [f.name for f in fields(TopUp)]
_TOPUP_INTS = {"amount", "bonus", "refund_amount", "refund_bonus", "version"}
REFUNDING_QUEUE = "TOPUPS_REFUNDING"
UNPAID_QUEUE = "TOPUPS_UNPAID"


def _top_up(item: TopUpItem) -> TopUp:
    return TopUp(**{n: (int(getattr(item, n) or 0) if n in _TOPUP_INTS else getattr(item, n))
                    for n in _TOPUP_FIELDS})


def _counted(top_up: TopUp) -> bool:
    """Holds one of its shopper's unpaid places and its plan's open slot."""
    return top_up.status == TopUpStatus.PENDING_PAYMENT and top_up.expires_at is not None


def _queue(top_up: TopUp) -> tuple[str, str] | None:
    if top_up.status == TopUpStatus.REFUNDING:
        return REFUNDING_QUEUE, top_up.top_up_id
    if _counted(top_up):
        return UNPAID_QUEUE, f"{top_up.expires_at}#{top_up.top_up_id}"
    return None


def _unpaid_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "UNPAID_TOP_UPS"


def _open_key(user_id: str, plan_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"OPEN_TOP_UP#{plan_id}"


class DynamoTopUpRepository:
    """`layers.domain.members.TopUpRepository`."""

    def get(self, top_up_id: str) -> TopUp | None:
        try:
            return _top_up(TopUpItem.get(*top_up_key(top_up_id), consistent_read=True))
        except TopUpItem.DoesNotExist:
            return None

    def __init__(self, unpaid_cap: int = UNPAID_TOP_UPS_CAP) -> None:
        self.unpaid_cap = unpaid_cap

    def stage_create(self, tx: Tx, top_up: TopUp, on_exists, on_open=None) -> None:
        queue = _queue(top_up)
        tx.put(TopUpItem(*top_up_key(top_up.top_up_id), **{n: getattr(top_up, n) for n in _TOPUP_FIELDS},
                         gsi2pk=queue[0] if queue else None, gsi2sk=queue[1] if queue else None),
               condition=TopUpItem.pk.does_not_exist(), on_fail=on_exists)
        if not _counted(top_up):
            return
        # Staged in this order on purpose: the open slot (a put) is reported before the cap
        # (an update), so a repeat for an open plan answers that top-up, never 409.
        tx.put(OpenTopUpItem(*_open_key(top_up.user_id, top_up.plan_id), top_up_id=top_up.top_up_id),
               condition=OpenTopUpItem.pk.does_not_exist(), on_fail=on_open or on_exists)
        cap = self.unpaid_cap
        tx.update(UnpaidTopUpsItem(*_unpaid_key(top_up.user_id)), actions=[UnpaidTopUpsItem.n.add(1)],
                  condition=UnpaidTopUpsItem.n.does_not_exist() | (UnpaidTopUpsItem.n < cap),
                  on_fail=lambda: errors.LimitExceeded(
                      f"you already have {cap} unpaid top-ups: pay one or wait for it to close", unpaid_cap=cap))

    def stage_change(self, tx: Tx, before: TopUp, after: TopUp, on_stale) -> None:
        actions = [*changed(TopUpItem, before, after,
                            [n for n in _TOPUP_FIELDS if n not in ("version", "prepay_id", "prepay_at")]),
                   TopUpItem.version.set(after.version), *requeued(TopUpItem, _queue(before), _queue(after))]
        tx.update(TopUpItem(*top_up_key(before.top_up_id)), actions=actions,
                  condition=TopUpItem.pk.exists() & (TopUpItem.version == before.version)
                  & (TopUpItem.status == str(before.status)), on_fail=on_stale)
        if _counted(before) and not _counted(after):
            tx.update(UnpaidTopUpsItem(*_unpaid_key(before.user_id)), actions=[UnpaidTopUpsItem.n.add(-1)])
            tx.delete(OpenTopUpItem(*_open_key(before.user_id, before.plan_id)))

    def open_for(self, user_id: str, plan_id: str) -> TopUp | None:
        try:
            slot = OpenTopUpItem.get(*_open_key(user_id, plan_id), consistent_read=True)
        except OpenTopUpItem.DoesNotExist:
            return None
        return self.get(slot.top_up_id)

    def unpaid_count(self, user_id: str) -> int:
        try:
            return int(UnpaidTopUpsItem.get(*_unpaid_key(user_id), consistent_read=True).n or 0)
        except UnpaidTopUpsItem.DoesNotExist:
            return 0

    def set_prepay_id(self, top_up_id: str, prepay_id: str, prepay_at: str | None = None) -> bool:
        actions = [TopUpItem.prepay_id.set(prepay_id)]
        if prepay_at:
            actions.append(TopUpItem.prepay_at.set(prepay_at))
        try:
            TopUpItem(*top_up_key(top_up_id)).update(
                actions=actions, condition=TopUpItem.pk.exists()
                & (TopUpItem.status == str(TopUpStatus.PENDING_PAYMENT)))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def refunding(self, limit: int) -> list[TopUp]:
        found = TopUpItem.gsi2.query(REFUNDING_QUEUE, limit=limit)
        return [_top_up(i) for i in found]

    def due_unpaid(self, now: str, limit: int) -> list[TopUp]:
        """Eventually consistent: callers re-read each top-up before acting on it."""
        found = TopUpItem.gsi2.query(UNPAID_QUEUE, TopUpItem.gsi2sk <= f"{now}#~", limit=limit)
        return [_top_up(i) for i in found]

    def save_plan(self, plan: Plan) -> None:
        PlanItem("TOPUP_PLANS", plan.plan_id, plan_id=plan.plan_id, pay=plan.pay, bonus=plan.bonus,
                 created_at=plan.created_at).save()

    def plans(self) -> list[Plan]:
        return [Plan(i.plan_id, int(i.pay), int(i.bonus), i.created_at) for i in PlanItem.query("TOPUP_PLANS")]

    def get_plan(self, plan_id: str) -> Plan | None:
        try:
            i = PlanItem.get("TOPUP_PLANS", plan_id)
        except PlanItem.DoesNotExist:
            return None
        return Plan(i.plan_id, int(i.pay), int(i.bonus), i.created_at)
