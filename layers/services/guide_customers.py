"""A guide's customers: the list a guide sees of everyone they brought (bound now or
before), with each customer's orders and spending through them, for the guide, the
operators and the guide's manager (docs/distribution.md, "A guide's customers").

Who may read whose list:
- a distributor their own (403 for anyone who is not a distributor);
- an operator anyone's (404 for someone who is not a distributor);
- a manager the guides of their own group only (403 for a caller who manages nobody
  and for a guide of another group, or no guide at all: a manager learns nothing about
  who else is a distributor).

The figures are read, never computed here: the records (written with the bindings) and
the analytics counters (written once per event) are joined a page at a time by the reader.
"""

from __future__ import annotations

from layers.clock import iso
from layers.domain import errors
from layers.domain import guide_customers as rules
from layers.domain.distributor import DistributorRepository
from layers.domain.guide_customers import GuideCustomerReader


class GuideCustomerService:
    def __init__(self, *, distributors: DistributorRepository, reader: GuideCustomerReader, clock):
        self.distributors = distributors
        self.reader = reader
        self.clock = clock

    def page(self, distributor_id: str, limit: int, cursor: dict | None):
        rows, next_key = self.reader.page(distributor_id, limit, cursor)
        now = iso(self.clock.now())
        return [rules.view(r, now) for r in rows], next_key

    def mine(self, caller_id: str, limit: int, cursor: dict | None):
        if self.distributors.get(caller_id) is None:
            raise errors.Forbidden("the caller is not a distributor")
        return self.page(caller_id, limit, cursor)

    def of_distributor(self, distributor_id: str, limit: int, cursor: dict | None):
        if self.distributors.get(distributor_id) is None:
            raise errors.NotFound("no such distributor")
        return self.page(distributor_id, limit, cursor)

    def for_manager(self, caller_id: str, distributor_id: str, limit: int, cursor: dict | None):
        if self.distributors.get_manager(caller_id) is None:
            raise errors.Forbidden("only a distributor manager may see a guide's customers")
        guide = self.distributors.get(distributor_id, consistent=True)
        if guide is None or guide.manager_id != caller_id:
            raise errors.Forbidden("this guide is not in the caller's group")
        return self.page(distributor_id, limit, cursor)
