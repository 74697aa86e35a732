"""A guide's customers in the shop table (layers/domain/guide_customers.py).

- Record: pk `DIST#<distributor_id>`, sk `CUST#<customer_id>`: `first_bound_at`,
  `bound_at`, `binding_expires_at`; gsi1 `DIST#<distributor_id>#GUIDED` /
  `<bound_at>#<customer_id>`, so the list, the latest bound first, is one Query. Written
  only in the binding's transaction (layers/storage/distribution.py `put_binding`); never
  expires (the binding itself is removed by TTL a day after it ends; the record is the
  guide's history).
- A page reads the records (one Query), then each customer's counter of orders through
  the guide (layers/storage/analytics.py, `GUIDE_CUSTOMER`) and their customer record
  (layers/storage/customers.py, for the masked phone) in ONE BatchGetItem; each item is
  read by the module that owns it, this one only knows which keys to ask for.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from layers.domain.attribution import Binding
from layers.domain.guide_customers import GuideCustomer, Row
from layers.storage.base import Listed, ShopModel
from layers.storage.tx import Tx, batch_get_raw


class GuideCustomerItem(Listed):
    distributor_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    first_bound_at = UnicodeAttribute()
    bound_at = UnicodeAttribute()
    binding_expires_at = UnicodeAttribute()


def record_key(distributor_id: str, customer_id: str) -> tuple[str, str]:
    return f"DIST#{distributor_id}", f"CUST#{customer_id}"


def list_key(distributor_id: str) -> str:
    return f"DIST#{distributor_id}#GUIDED"


def to_record(item: GuideCustomerItem) -> GuideCustomer:
    return GuideCustomer(item.distributor_id, item.customer_id, item.first_bound_at, item.bound_at,
                         item.binding_expires_at)


def stage_bound(tx: Tx, binding: Binding, on_later) -> None:
    """The guide's record of `binding`, in the binding's transaction: first_bound_at kept,
    the rest the binding's; refused (with `on_later`) if the record holds a later touch."""
    b, item = binding, GuideCustomerItem
    tx.update(item(*record_key(b.distributor_id, b.customer_id)), actions=[
        item.distributor_id.set(b.distributor_id), item.customer_id.set(b.customer_id),
        item.first_bound_at.set(item.first_bound_at | b.bound_at), item.bound_at.set(b.bound_at),
        item.binding_expires_at.set(b.expires_at), item.gsi1pk.set(list_key(b.distributor_id)),
        item.gsi1sk.set(f"{b.bound_at}#{b.customer_id}"),
    ], condition=item.pk.does_not_exist() | (item.bound_at <= b.bound_at), on_fail=on_later)


def stage_ended(tx: Tx, previous: Binding, ended_at: str) -> None:
    """The previous guide's binding ends at `ended_at` (the customer moved). A binding made
    before these records existed gets its record now, from the binding."""
    p, item = previous, GuideCustomerItem
    tx.update(item(*record_key(p.distributor_id, p.customer_id)), actions=[
        item.distributor_id.set(p.distributor_id), item.customer_id.set(p.customer_id),
        item.first_bound_at.set(item.first_bound_at | p.bound_at), item.bound_at.set(item.bound_at | p.bound_at),
        item.binding_expires_at.set(ended_at), item.gsi1pk.set(list_key(p.distributor_id)),
        item.gsi1sk.set(item.gsi1sk | f"{p.bound_at}#{p.customer_id}"),
    ])


class DynamoGuideCustomerReader:
    """`layers.domain.guide_customers.GuideCustomerReader` on the shop table."""

    def records(self, distributor_id: str, limit: int, cursor: dict | None):
        result = GuideCustomerItem.gsi1.query(list_key(distributor_id), scan_index_forward=False, limit=limit,
                                              last_evaluated_key=cursor)
        items = [to_record(i) for i in result]
        return items, result.last_evaluated_key

    def page(self, distributor_id: str, limit: int, cursor: dict | None):
        from layers.domain.analytics import guide_customer_key
        from layers.storage.analytics import CounterItem, counter_key
        from layers.storage.customers import CustomerItem
        from layers.storage.customers import record_key as customer_key

        records, next_key = self.records(distributor_id, limit, cursor)
        wanted: dict[tuple[str, str], type[ShopModel]] = {}
        for r in records:
            wanted[counter_key(guide_customer_key(distributor_id, r.customer_id))] = CounterItem
            wanted[customer_key(r.customer_id)] = CustomerItem
        found = {key: wanted[key].from_raw_data(raw) for key, raw in batch_get_raw(list(wanted), consistent=False).items()}
        rows = []
        for r in records:
            counter = found.get(counter_key(guide_customer_key(distributor_id, r.customer_id)))
            customer = found.get(customer_key(r.customer_id))
            rows.append(Row(r, orders=int(getattr(counter, "orders", None) or 0),
                            spent=int(getattr(counter, "spent", None) or 0),
                            phone_masked=getattr(customer, "phone_masked", None)))
        return rows, next_key

