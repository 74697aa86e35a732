"""Payment anomalies for the operators: a payment that does not match its order, a
second payment, a paid-after-close refund. pk `ANOMALY#<order_id>`, sk `<kind>#<time>`;
listed by gsi1 `ANOMALIES`. Logged at ERROR with `alarm` set, which infra/ alarms on."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from layers import clock
from layers.storage.base import Listed


class AnomalyItem(Listed):
    order_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    detail = JSONAttribute()
    created_at = UnicodeAttribute()


def record(order_id: str, kind: str, detail: dict) -> None:
    now = clock.now_iso()
    AnomalyItem(f"ANOMALY#{order_id}", f"{kind}#{now}", order_id=order_id, kind=kind, detail=detail,
                created_at=now, gsi1pk="ANOMALIES", gsi1sk=f"{now}#{order_id}").save()


def for_order(order_id: str) -> list[AnomalyItem]:
    return list(AnomalyItem.query(f"ANOMALY#{order_id}"))


def recent(limit: int = 100) -> list[AnomalyItem]:
    return list(AnomalyItem.gsi1.query("ANOMALIES", scan_index_forward=False, limit=limit))
