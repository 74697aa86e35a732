"""How many accrued commissions the paid-goods rule would have changed.

Commissions were computed on the goods less the coupon only; they are now on what the
shopper paid for the goods (`layers/domain/paid_shares.py`: the member level's discount
and the points off too). Commissions already accrued keep their amount; this counts,
read-only, how many of them the rule now in force would have made different, and by how
much in all, at the rate each line stored:

    .venv/bin/python local/commission_recount.py      # against the table in the environment

It scans the commissions (a full Scan of the table, paged: run it off-peak, never from a
handler) and reads each one's order. On a fresh shop it prints 0: only an order with a
member discount or points spent differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def count(commissions, get_order) -> dict:
    """`commissions`: accrued commissions (domain objects); `get_order(order_id)`: the order
    or None. Returns how many the paid-goods rule changes and the fen it moves."""
    from layers.domain import commission as rules

    seen = changed = 0
    old_total = new_total = 0
    missing = 0
    for c in commissions:
        order = get_order(c.order_id)
        if order is None:
            missing += 1
            continue
        seen += 1
        old = rules.coupon_only_amount(list(c.lines or ()), list(order.items),
                                       int(order.amounts.get("discount") or 0))
        new = rules.paid_goods_amount(list(c.lines or ()), list(order.items), order.amounts)
        old_total, new_total = old_total + old, new_total + new
        if old != new:
            changed += 1
    return {"commissions": seen, "would_change": changed, "accrued_fen_old_rule": old_total,
            "fen_on_paid_goods": new_total, "orders_missing": missing}


def main() -> None:
    from functions import wiring

    orders = wiring.order_repository()
    print(json.dumps(count(wiring.commission_repository().scan_commissions(), orders.get)))


if __name__ == "__main__":
    main()
