"""A guide's customers (导购的客户): everyone a guide ever brought, bound now or before.

The binding (`attribution.Binding`) holds only a customer's CURRENT guide: last touch
overwrites it. A guide keeps a record per customer they ever bound, written in the same
transaction as the binding (layers/storage/distribution.py `put_binding`) and under the
same condition, so neither exists without the other and an older delayed touch moves
neither.

- `first_bound_at`: the first time this guide bound the customer; kept on every re-bind.
- `bound_at`: the latest touch of THIS guide (the list is ordered by it, newest first).
- `binding_expires_at`: when this guide's binding ends. A re-bind by the same guide pushes
  it out; when the customer moves to another guide while it still runs, it is set to the
  moment of the move (`ended_at`), so it is never later than the truth: a record whose
  `binding_expires_at` has passed is a customer this guide no longer holds. A binding
  that had expired on its own before the move keeps its own expiry.

A customer's `orders` and `spent` on the guide's list are counted through the analytics
pipeline (layers/domain/analytics.py, counter `GUIDE_CUSTOMER`): orders attributed to the
guide and paid, and what they paid for goods less the goods part of their refunds, the
customer record's own definition of `spent` (layers/domain/customers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from layers.domain.attribution import Binding


@dataclass(frozen=True)
class GuideCustomer:
    distributor_id: str
    customer_id: str
    first_bound_at: str
    bound_at: str
    binding_expires_at: str

    def bound(self, now: str) -> bool:
        return self.binding_expires_at > now


def ended_at(previous: Binding | None, new: Binding) -> str | None:
    """When the previous guide's binding ends because of `new` (the moment of the move),
    or None when nothing ends: no previous binding, the same guide again, or a previous
    binding that had already expired on its own."""
    if previous is None or previous.distributor_id == new.distributor_id:
        return None
    if not previous.active(new.bound_at):
        return None
    return new.bound_at


@dataclass(frozen=True)
class Row:
    """One customer as the guide's list shows them: the record, the counters of their
    orders through this guide (absent before the first), and their masked phone."""

    record: GuideCustomer
    orders: int = 0
    spent: int = 0
    phone_masked: str | None = None


def view(row: Row, now: str) -> dict:
    r = row.record
    return {"user_id": r.customer_id, "first_bound_at": r.first_bound_at, "bound_at": r.bound_at,
            "binding_expires_at": r.binding_expires_at, "bound": r.bound(now), "orders": row.orders,
            "spent": row.spent, "phone_masked": row.phone_masked}


class GuideCustomerReader(Protocol):
    def page(self, distributor_id: str, limit: int, cursor: dict | None) -> tuple[list[Row], dict | None]:
        """A page of the guide's customers, the latest bound first, with their figures."""
