"""Refunds, kept in their order's partition: pk `ORDER#<order_id>`, sk `REFUND#<refund_id>`.

The refund id is WeChat's `out_refund_no`: fixed when the refund is asked for and used
for every call about it, so a retry can never become a second refund.
gsi2 is a work queue while a refund waits: `REFUNDS#REQUESTED` (an operator must
approve it) or `REFUNDS#PROCESSING` (sent, or to be sent, to WeChat Pay).
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from layers.storage.base import Queued

REQUESTED = "REQUESTED"     # waits for an operator (the order was shipped)
PROCESSING = "PROCESSING"   # approved; WeChat Pay is (being) asked
SUCCESS = "SUCCESS"
ABNORMAL = "ABNORMAL"
CLOSED = "CLOSED"
REJECTED = "REJECTED"


class RefundItem(Queued):
    refund_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    amount = NumberAttribute()
    reason = UnicodeAttribute()
    status = UnicodeAttribute()
    automatic = BooleanAttribute(default=False)
    request_hash = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    wechat_refund_id = UnicodeAttribute(null=True)


def refund_key(order_id: str, refund_id: str) -> tuple[str, str]:
    return f"ORDER#{order_id}", f"REFUND#{refund_id}"


def get_refund(order_id: str, refund_id: str) -> RefundItem | None:
    try:
        return RefundItem.get(*refund_key(order_id, refund_id), consistent_read=True)
    except RefundItem.DoesNotExist:
        return None


def for_order(order_id: str) -> list[RefundItem]:
    return list(RefundItem.query(f"ORDER#{order_id}", RefundItem.sk.startswith("REFUND#")))


def waiting(status: str, limit: int = 100):
    return RefundItem.gsi2.query(f"REFUNDS#{status}", limit=limit)


def order_id_of(refund_id: str) -> str:
    """Refund ids are `<order_id>R<suffix>`: the order is found without an index."""
    return refund_id.split("R", 1)[0] if "R" in refund_id else refund_id
