"""Customer records, tags and their members in the shop table; the only module that knows
their keys (docs/customers.md has the access patterns and why).

- Record: pk `CUSTOMER#<user_id>`, sk `RECORD`. Figures, times, level, distributor, the
  phone sealed (`phone_sealed`, layers/storage/pii.py, context = the item's key) and
  masked, manual and rule tags, a `version` bumped by every event's write.
  - gsi3 `CUSTOMERS` / the last order's epoch seconds (0 before any order): the list, newest
    order first; `last_order_before`/`after` are its key condition.
  - gsi1 `CUSTOMER#PHONE#<blind index of the number>` / user id: find by whole number.
  - gsi2 `CUSTOMER#LAST4#<blind index of the last four>` / user id: find by last four.
- Marker: pk `CUSTOMER#EVENT#<event_id>`, sk `COUNTED`: put (if absent) in the transaction
  of the event's write, so a redelivered event changes nothing; expires after 90 days.
- Tag: pk `CUSTOMER#TAGS`, sk the name; `rule` JSON.
- Tag member: pk `CUSTOMER#TAG#<name>`, sk the user id: one per customer holding the tag
  (manually or by rule), written in the transaction that changes the record's tags, so a
  grant pages through a tag's members (`users_with_tag`) without reading records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from layers.domain import errors
from layers.domain.customers import Customer, Delta, Filters, Tag, applied
from layers.storage import pii
from layers.storage.base import Listed, Numbered, Queued, ShopModel
from layers.storage.errors import condition_failed
from layers.storage.tx import Tx

MARKER_TTL_S = 90 * 24 * 3600
LIST = "CUSTOMERS"
TAGS = "CUSTOMER#TAGS"
PHONE_INDEX, LAST4_INDEX = "customer-phone", "customer-phone-last4"
# What one list request reads at most when filters are applied within the query: a page
# with fewer matches ends early with a cursor (docs/customers.md).
SCAN_BUDGET = 1000
# A phone or last-four lookup answers at most this many customers.
PHONE_MATCHES = 200


class CustomerItem(Listed, Queued, Numbered):
    user_id = UnicodeAttribute()
    orders = NumberAttribute(null=True)
    spent = NumberAttribute(null=True)
    first_order_at = UnicodeAttribute(null=True)
    last_order_at = UnicodeAttribute(null=True)
    level = UnicodeAttribute(null=True)
    distributor_id = UnicodeAttribute(null=True)
    phone_sealed = UnicodeAttribute(null=True)
    phone_masked = UnicodeAttribute(null=True)
    manual_tags = ListAttribute(of=UnicodeAttribute, null=True)
    rule_tags = ListAttribute(of=UnicodeAttribute, null=True)
    version = NumberAttribute(null=True)
    tags_version = NumberAttribute(null=True)


class CustomerEventItem(ShopModel):
    counted_at = NumberAttribute()


class TagItem(ShopModel):
    name = UnicodeAttribute()
    rule = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class TagMemberItem(ShopModel):
    user_id = UnicodeAttribute()


def record_key(user_id: str) -> tuple[str, str]:
    return f"CUSTOMER#{user_id}", "RECORD"


def marker_key(event_id: str) -> tuple[str, str]:
    return f"CUSTOMER#EVENT#{event_id}", "COUNTED"


def member_key(tag: str, user_id: str) -> tuple[str, str]:
    return f"CUSTOMER#TAG#{tag}", user_id


def _epoch(at: str | None) -> int:
    return 0 if at is None else int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())


def _customer(item: CustomerItem) -> Customer:
    return Customer(user_id=item.user_id, orders=int(item.orders or 0), spent=int(item.spent or 0),
                    first_order_at=item.first_order_at, last_order_at=item.last_order_at, level=item.level,
                    distributor_id=item.distributor_id, phone_masked=item.phone_masked,
                    manual_tags=tuple(item.manual_tags or ()), rule_tags=tuple(item.rule_tags or ()))


def _tag(item: TagItem) -> Tag:
    return Tag(name=item.name, rule=json.loads(item.rule) if item.rule else None, created_at=item.created_at)


class _Counted(Exception):
    pass


class _Stale(Exception):
    pass


class DynamoCustomerRepository:
    """`layers.domain.customers` records on the shop table."""

    # -- records ----------------------------------------------------------------------------
    def _item(self, user_id: str) -> CustomerItem | None:
        try:
            return CustomerItem.get(*record_key(user_id), consistent_read=True)
        except CustomerItem.DoesNotExist:
            return None

    def get(self, user_id: str) -> Customer | None:
        item = self._item(user_id)
        return _customer(item) if item else None

    def apply(self, event_id: str, delta: Delta, attempts: int = 10) -> bool:
        """The event's change, once: one transaction of the record (conditioned on the
        version read) and the event's marker. False when the event was already applied."""
        for _ in range(attempts):
            item = self._item(delta.user_id)
            before = _customer(item) if item else Customer(user_id=delta.user_id)
            version = int(item.version or 0) if item else 0
            after = applied(before, delta)
            actions = [CustomerItem.user_id.set(after.user_id), CustomerItem.orders.set(after.orders),
                       CustomerItem.spent.set(after.spent), CustomerItem.version.set(version + 1),
                       CustomerItem.gsi3pk.set(LIST), CustomerItem.gsi3n.set(_epoch(after.last_order_at))]
            for name in ("first_order_at", "last_order_at", "level", "distributor_id"):
                value = getattr(after, name)
                attribute = getattr(CustomerItem, name)
                actions.append(attribute.set(value) if value is not None else attribute.remove())
            condition = (CustomerItem.version == version) if item and item.version is not None \
                else CustomerItem.version.does_not_exist()
            now = int(time.time())
            tx = Tx()
            tx.put(CustomerEventItem(*marker_key(event_id), counted_at=now, ttl=now + MARKER_TTL_S),
                   condition=CustomerEventItem.pk.does_not_exist(), on_fail=_Counted)
            tx.update(CustomerItem(*record_key(delta.user_id)), actions=actions, condition=condition, on_fail=_Stale)
            try:
                tx.commit()
                return True
            except _Counted:
                return False
            except _Stale:
                continue
        raise errors.RateLimited(f"customer {delta.user_id}: the record kept changing")

    def set_phone(self, user_id: str, phone: str, masked: str) -> None:
        """The number sealed to the record's key, its blind indexes (whole and last four) and
        masked form, in one write; the figures are left as they are."""
        pk, sk = record_key(user_id)
        CustomerItem(pk, sk).update(actions=[
            CustomerItem.user_id.set(user_id),
            CustomerItem.phone_sealed.set(pii.seal(phone.encode(), f"{pk}|{sk}")),
            CustomerItem.phone_masked.set(masked),
            CustomerItem.gsi1pk.set(f"CUSTOMER#PHONE#{pii.blind_index(phone, PHONE_INDEX)}"),
            CustomerItem.gsi1sk.set(user_id),
            CustomerItem.gsi2pk.set(f"CUSTOMER#LAST4#{pii.blind_index(phone[-4:], LAST4_INDEX)}"),
            CustomerItem.gsi2sk.set(user_id),
            CustomerItem.gsi3pk.set(LIST),
            CustomerItem.gsi3n.set(CustomerItem.gsi3n | 0),
        ])

    def remove_phone(self, user_id: str) -> bool:
        """The number, its indexes and masked form gone; False if none was held."""
        item = self._item(user_id)
        if item is None or item.phone_sealed is None:
            return False
        item.update(actions=[CustomerItem.phone_sealed.remove(), CustomerItem.phone_masked.remove(),
                             CustomerItem.gsi1pk.remove(), CustomerItem.gsi1sk.remove(),
                             CustomerItem.gsi2pk.remove(), CustomerItem.gsi2sk.remove()])
        return True

    def phone(self, user_id: str) -> str | None:
        """The whole number, opened: for an owner's view only."""
        item = self._item(user_id)
        if item is None or item.phone_sealed is None:
            return None
        pk, sk = record_key(user_id)
        return pii.open_(item.phone_sealed, f"{pk}|{sk}").decode()

    def phones(self, user_ids: list[str]) -> dict[str, str]:
        """The whole numbers of these customers (an owner's console page), opened."""
        out = {}
        for item in CustomerItem.batch_get([record_key(u) for u in dict.fromkeys(user_ids)],
                                           attributes_to_get=["pk", "sk", "user_id", "phone_sealed"]):
            if item.phone_sealed:
                out[item.user_id] = pii.open_(item.phone_sealed, f"{item.pk}|{item.sk}").decode()
        return out

    # -- the list ---------------------------------------------------------------------------
    def find_by_phone(self, kind: str, digits: str) -> list[Customer]:
        """Customers whose number is `digits` (kind "phone") or ends with them ("last4"),
        by their blind indexes under every key version held."""
        index, prefix, purpose = ((CustomerItem.gsi1, "CUSTOMER#PHONE#", PHONE_INDEX) if kind == "phone"
                                  else (CustomerItem.gsi2, "CUSTOMER#LAST4#", LAST4_INDEX))
        found: dict[str, Customer] = {}
        for hashed in pii.blind_indexes(digits, purpose):
            for item in index.query(prefix + hashed, limit=PHONE_MATCHES - len(found)):
                found.setdefault(item.user_id, _customer(item))
            if len(found) >= PHONE_MATCHES:
                break
        return list(found.values())

    def page(self, filters: Filters, limit: int, cursor: dict | None,
             budget: int = SCAN_BUDGET) -> tuple[list[Customer], dict | None]:
        """A page of the list, newest last order first: the last order's time bounds the
        query on gsi3, the other filters are applied within it, reading at most `budget`
        items; fewer than `limit` matches and a cursor means "more may follow"."""
        if filters.tag is not None:
            return self._page_of_tag(filters, limit, cursor, budget)
        after = _epoch(filters.last_order_after) + 1 if filters.last_order_after else None
        before = _epoch(filters.last_order_before) - 1 if filters.last_order_before else None
        if (before is not None and before < 1) or (after is not None and before is not None and after > before):
            return [], None  # an empty window (0 is "never ordered", never in a window)
        range_condition = None
        if after is not None and before is not None:
            range_condition = CustomerItem.gsi3n.between(after, before)
        elif after is not None:
            range_condition = CustomerItem.gsi3n >= after
        elif before is not None:
            range_condition = CustomerItem.gsi3n.between(1, before)  # 0: never ordered
        condition = None
        for part in ((CustomerItem.level == filters.level) if filters.level is not None else None,
                     (CustomerItem.spent >= filters.min_spent) if filters.min_spent is not None else None,
                     (CustomerItem.orders >= filters.min_orders) if filters.min_orders is not None else None):
            if part is not None:
                condition = part if condition is None else condition & part
        result = CustomerItem.gsi3.query(LIST, range_condition, filter_condition=condition, scan_index_forward=False,
                                         page_size=_first_read(limit, budget, filtered=condition is not None),
                                         last_evaluated_key=cursor)
        return self._collect(result, filters, limit, budget, _customer_of_raw)

    def _page_of_tag(self, filters, limit, cursor, budget):
        """The tag's members in user id order, their records read in batches of 100."""
        result = TagMemberItem.query(f"CUSTOMER#TAG#{filters.tag}", page_size=min(100, budget),
                                     last_evaluated_key=cursor)

        def records(raw_items: list[dict]) -> list[Customer | None]:
            ids = [TagMemberItem.from_raw_data(r).user_id for r in raw_items]
            got = {i.user_id: _customer(i) for i in CustomerItem.batch_get([record_key(u) for u in ids])}
            return [got.get(u) for u in ids]

        return self._collect(result, filters, limit, budget, None, batch=records)

    @staticmethod
    def _collect(result, filters: Filters, limit: int, budget: int, one: Callable | None,
                 batch: Callable | None = None) -> tuple[list[Customer], dict | None]:
        pages, found, read = result.page_iter, [], 0
        key_names = list(pages.key_names)
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return found, None
            raw_items = page.get("Items") or []
            read += int(page.get("ScannedCount") or len(raw_items))
            customers = batch(raw_items) if batch else [one(r) for r in raw_items]
            for raw, customer in zip(raw_items, customers, strict=True):
                if customer is not None and filters.matches(customer):
                    found.append(customer)
                if len(found) == limit:
                    return found, {k: raw[k] for k in key_names if k in raw}
            if pages.last_evaluated_key is None:
                return found, None
            if read >= budget:
                return found, pages.last_evaluated_key
            pages.page_size = min(pages.page_size or budget, budget - read)

    def scan_all(self, cursor: dict | None, size: int = 100) -> tuple[list[Customer], dict | None]:
        """Every customer, a page at a time (the retag job)."""
        result = CustomerItem.gsi3.query(LIST, limit=size, last_evaluated_key=cursor)
        found = [_customer(i) for i in result]
        return found, result.last_evaluated_key

    # -- tags -------------------------------------------------------------------------------
    def create_tag(self, tag: Tag) -> Tag:
        item = TagItem(TAGS, tag.name, name=tag.name, rule=json.dumps(tag.rule, sort_keys=True) if tag.rule else None,
                       created_at=tag.created_at)
        try:
            item.save(condition=TagItem.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise errors.InvalidState(f"a tag named {tag.name} exists") from None
            raise
        return tag

    def tags(self) -> list[Tag]:
        return [_tag(i) for i in TagItem.query(TAGS)]

    def set_tags(self, user_id: str, manual: tuple[str, ...] | None = None, rule: tuple[str, ...] | None = None,
                 attempts: int = 10) -> Customer:
        """The record's manual tags (or rule tags) replaced, and the tags' members moved to
        match, in one transaction conditioned on the tags as read."""
        for _ in range(attempts):
            item = self._item(user_id)
            before = _customer(item) if item else Customer(user_id=user_id)
            new_manual = tuple(sorted(set(before.manual_tags if manual is None else manual)))
            new_rule = tuple(sorted(set(before.rule_tags if rule is None else rule)))
            old_all, new_all = set(before.tags), set(new_manual) | set(new_rule)
            if new_manual == tuple(sorted(before.manual_tags)) and new_rule == tuple(sorted(before.rule_tags)):
                return before
            tags_version = int(item.tags_version or 0) if item else 0
            condition = (CustomerItem.tags_version == tags_version) if item and item.tags_version is not None \
                else CustomerItem.tags_version.does_not_exist()
            tx = Tx()
            tx.update(CustomerItem(*record_key(user_id)), actions=[
                CustomerItem.user_id.set(user_id), CustomerItem.manual_tags.set(list(new_manual)),
                CustomerItem.rule_tags.set(list(new_rule)), CustomerItem.tags_version.set(tags_version + 1),
                CustomerItem.gsi3pk.set(LIST), CustomerItem.gsi3n.set(CustomerItem.gsi3n | 0)],
                condition=condition, on_fail=_Stale)
            for name in sorted(new_all - old_all):
                tx.put(TagMemberItem(*member_key(name, user_id), user_id=user_id))
            for name in sorted(old_all - new_all):
                tx.delete(TagMemberItem(*member_key(name, user_id)))
            try:
                tx.commit()
            except _Stale:
                continue
            from dataclasses import replace

            return replace(before, manual_tags=new_manual, rule_tags=new_rule)
        raise errors.RateLimited(f"customer {user_id}: the tags kept changing")

    def users_with_tag(self, tag: str, limit: int = 100, cursor: dict | None = None) -> tuple[list[str], dict | None]:
        """A page of the user ids holding `tag` (manually or by its rule), in user id order,
        and the cursor of the next page (None at the end). For coupon grants to a tag."""
        result = TagMemberItem.query(f"CUSTOMER#TAG#{tag}", limit=limit, last_evaluated_key=cursor)
        return [i.user_id for i in result], result.last_evaluated_key


def _first_read(limit: int, budget: int, filtered: bool) -> int:
    """How many items the first request of a page reads: `limit` when nothing is filtered
    (every item read is on the page), else more, since a filter drops some."""
    return min(budget, limit if not filtered else max(limit * 5, 100))


def _customer_of_raw(raw: dict) -> Customer:
    return _customer(CustomerItem.from_raw_data(raw))


class DynamoTagMembers:
    """`layers.domain.coupon_grant.TagMembers` over the customers' tags: what a coupon grant
    to a tag walks. Members are listed in user id order (the tag's members' partition), so
    a cursor taken earlier resumes where it was."""

    def __init__(self, customers: DynamoCustomerRepository) -> None:
        self.customers = customers

    def count(self, tag: str) -> int | None:
        if tag not in {t.name for t in self.customers.tags()}:
            return None
        return TagMemberItem.count(f"CUSTOMER#TAG#{tag}")

    def user_ids(self, tag: str, cursor: dict | None, limit: int) -> tuple[list[str], dict | None]:
        return self.customers.users_with_tag(tag, limit=limit, cursor=cursor)
