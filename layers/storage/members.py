"""Members' books, their entries, top-ups and plans in the shop table (issue 19).

- Book: pk `MEMBER#<user_id>`, sk `BOOK#balance` (principal, bonus) or `BOOK#points`
  (available, frozen, growth). Two items, so that one transaction may move both (a
  balance order paying with points too): DynamoDB refuses two parts on one item.
- Entry: pk `MEMBER#<user_id>`, sk `ENTRY#<book>#<cause>`: written with
  `attribute_not_exists(pk)` in the transaction that adds it to its book.
- Top-up: pk `TOPUP#<id>`, sk `TOPUP`; gsi2 `TOPUPS_REFUNDING` / `<id>` while its
  refund is in flight (the sweep asks WeChat again).
- Plan: pk `TOPUP_PLANS`, sk `<plan_id>`.
"""

from __future__ import annotations

from dataclasses import fields

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from layers.domain.members import BALANCE, POINTS, Book, Movement, Plan, TopUp, TopUpStatus
from layers.storage.base import Queued, ShopModel, changed
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
    note = UnicodeAttribute(null=True)  # an owner's adjustment: who and why (issue 21)


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


def _top_up(item: TopUpItem) -> TopUp:
    return TopUp(**{n: (int(getattr(item, n) or 0) if n in _TOPUP_INTS else getattr(item, n))
                    for n in _TOPUP_FIELDS})


def _queued(top_up: TopUp) -> bool:
    return top_up.status == TopUpStatus.REFUNDING


class DynamoTopUpRepository:
    """`layers.domain.members.TopUpRepository`."""

    def get(self, top_up_id: str) -> TopUp | None:
        try:
            return _top_up(TopUpItem.get(*top_up_key(top_up_id), consistent_read=True))
        except TopUpItem.DoesNotExist:
            return None

    def stage_create(self, tx: Tx, top_up: TopUp, on_exists) -> None:
        tx.put(TopUpItem(*top_up_key(top_up.top_up_id), **{n: getattr(top_up, n) for n in _TOPUP_FIELDS}),
               condition=TopUpItem.pk.does_not_exist(), on_fail=on_exists)

    def stage_change(self, tx: Tx, before: TopUp, after: TopUp, on_stale) -> None:
        actions = [*changed(TopUpItem, before, after, [n for n in _TOPUP_FIELDS if n != "version"]),
                   TopUpItem.version.set(after.version)]
        if _queued(after) and not _queued(before):
            actions += [TopUpItem.gsi2pk.set(REFUNDING_QUEUE), TopUpItem.gsi2sk.set(after.top_up_id)]
        elif _queued(before) and not _queued(after):
            actions += [TopUpItem.gsi2pk.remove(), TopUpItem.gsi2sk.remove()]
        tx.update(TopUpItem(*top_up_key(before.top_up_id)), actions=actions,
                  condition=TopUpItem.pk.exists() & (TopUpItem.version == before.version)
                  & (TopUpItem.status == str(before.status)), on_fail=on_stale)

    def set_prepay_id(self, top_up_id: str, prepay_id: str) -> None:
        TopUpItem(*top_up_key(top_up_id)).update(actions=[TopUpItem.prepay_id.set(prepay_id)],
                                                 condition=TopUpItem.pk.exists())

    def refunding(self, limit: int) -> list[TopUp]:
        found = TopUpItem.gsi2.query(REFUNDING_QUEUE, limit=limit)
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
