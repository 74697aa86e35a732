"""Payment anomalies for the operators: a payment that does not match its order, a
second payment, a paid-after-close refund. pk `ANOMALY#<order_id>`, sk `<kind>#<time>`;
listed by gsi1 `ANOMALIES`. Logged at ERROR with `alarm` set, which infra/ alarms on."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from layers import clock
from layers.domain.reconcile import Anomaly
from layers.storage.base import Listed


class AnomalyItem(Listed):
    order_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    detail = JSONAttribute()
    created_at = UnicodeAttribute()


def _anomaly(item: AnomalyItem) -> Anomaly:
    return Anomaly(item.order_id, item.kind, item.detail, item.created_at)


class DynamoAnomalyRepository:
    """layers.domain.reconcile.AnomalyRepository."""

    def __init__(self, clock=clock) -> None:
        self.clock = clock

    def record(self, order_id: str, kind: str, detail: dict) -> None:
        now = clock.iso(self.clock.now())
        AnomalyItem(f"ANOMALY#{order_id}", f"{kind}#{now}", order_id=order_id, kind=kind, detail=detail,
                    created_at=now, gsi1pk="ANOMALIES", gsi1sk=f"{now}#{order_id}").save()

    def for_order(self, order_id: str) -> list[Anomaly]:
        return [_anomaly(a) for a in AnomalyItem.query(f"ANOMALY#{order_id}")]

    def recent(self, limit: int = 100) -> list[Anomaly]:
        return [_anomaly(a) for a in AnomalyItem.gsi1.query("ANOMALIES", scan_index_forward=False, limit=limit)]


# -- for tests that look an order's anomalies up directly -----------------------------------

def for_order(order_id: str) -> list[Anomaly]:
    return DynamoAnomalyRepository().for_order(order_id)
