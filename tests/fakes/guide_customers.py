"""In-memory twin of layers/storage/guide_customers.py's reader: the guide's records (kept
by MemoryDistributorRepository.put_binding), their `GUIDE_CUSTOMER` counters (kept by
MemoryAnalyticsRepository) and the customers' masked phones (MemoryCustomerRepository)."""

from __future__ import annotations

from layers.domain.analytics import guide_customer_key
from layers.domain.guide_customers import Row
from tests.fakes.distribution import MemoryDistributorRepository
from tests.fakes.memory import MemoryStore


class MemoryGuideCustomerReader:
    def __init__(self, store: MemoryStore, customers=None):
        self.store = store
        self.customers = customers

    def page(self, distributor_id: str, limit: int, cursor: dict | None):
        records, next_key = MemoryDistributorRepository(self.store).guide_records(distributor_id, limit, cursor)
        rows = []
        for r in records:
            counters = self.store.get(("analytics", guide_customer_key(distributor_id, r.customer_id))) or {}
            customer = self.customers.get(r.customer_id) if self.customers is not None else None
            rows.append(Row(r, orders=int(counters.get("orders", 0)), spent=int(counters.get("spent", 0)),
                            phone_masked=customer.phone_masked if customer else None))
        return rows, next_key
