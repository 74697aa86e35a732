"""One suite, two stores: the in-memory distributor and commission repositories that
service tests use must behave as the DynamoDB ones do (conditions on status and rev,
totals, work queues, last-touch bindings)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from layers.domain import commission as rules
from layers.domain import commission_debt as debts
from layers.domain import commission_entry as cm
from layers.domain import order as order_rules
from layers.domain.attribution import Binding
from layers.domain.commission_entry import Stats
from layers.domain.distributor import Distributor, Share, Template
from layers.domain.order import Order

# Far ahead, and left in no work queue: the table is shared with the integration tests,
# whose sweeps must not find these.
NOW = "2990-11-29T02:00:00Z"


class Stale(Exception):
    pass


class Exists(Exception):
    pass


class Backend:
    def __init__(self, distributors, commissions, new_tx):
        self.distributors, self.commissions, self.new_tx = distributors, commissions, new_tx


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request):
    if request.param == "memory":
        from tests.fakes.distribution import MemoryCommissionRepository, MemoryDistributorRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Backend(MemoryDistributorRepository(store), MemoryCommissionRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.distribution import DynamoCommissionRepository, DynamoDistributorRepository
    from layers.storage.tx import Tx

    return Backend(DynamoDistributorRepository(), DynamoCommissionRepository(), Tx)


def uid(prefix="u_") -> str:
    return prefix + uuid.uuid4().hex[:12]


def accrued(distributor_id: str, amount_each=10_000) -> cm.Change:
    order = Order(order_id="o" + uuid.uuid4().hex[:25], user_id=uid(), openid="x", status=order_rules.PAID,
                  items=({"sku_id": "s1", "quantity": 2, "unit_price": amount_each, "commission": None},),
                  amounts={"goods": 2 * amount_each, "discount": 0, "shipping": 0, "payable": 2 * amount_each},
                  created_at=NOW, expires_at=NOW, distributor_id=distributor_id, transaction_id="42", paid_at=NOW,
                  paid_amount=2 * amount_each)
    return cm.accrue(order, rules.Tier("基础", 500), NOW)


def write(backend, change: cm.Change) -> None:
    tx = backend.new_tx()
    for created in change.creates:
        backend.commissions.stage_create(tx, created, on_exists=Exists)
    if change.debt is not None:
        backend.commissions.stage_debt(tx, change.debt, on_exists=Exists)
    if change.before is None:
        backend.commissions.stage_create(tx, change.after, on_exists=Exists)
    else:
        backend.commissions.stage_change(tx, change.before, change.after, on_stale=Stale)
    backend.commissions.stage_stats(tx, change.after.distributor_id, change.stats)
    tx.commit()


class TestDistributionRepositories:
    def test_a_commission_is_created_once_with_its_totals(self, backend):
        d = uid()
        change = accrued(d)
        write(backend, change)
        assert backend.commissions.get(d, change.after.commission_id) == change.after
        with pytest.raises(Exists):
            write(backend, change)
        assert backend.commissions.stats(d) == Stats(sales_count=1, sales_amount=20_000, pending=1000)
        assert backend.commissions.stats_many([d, uid()]) == {d: backend.commissions.stats(d)}

    def test_a_change_is_conditioned_on_status_and_rev(self, backend):
        d = uid()
        write(backend, accrued(d))
        assert backend.commissions.get_many(d, []) == []
        first = accrued(d)
        write(backend, first)
        c = backend.commissions.get(d, first.after.commission_id)
        moved = cm.schedule(c, NOW, 3600, NOW)
        write(backend, moved)
        with pytest.raises(Stale):
            write(backend, cm.schedule(replace(c, settleable_at=None), NOW, 60, NOW))  # decided from rev 0
        stored = backend.commissions.get(d, c.commission_id)
        assert stored == moved.after and stored.settleable_at == "2990-11-29T03:00:00Z"
        assert backend.commissions.stats(d).pending == 2000  # the failed one moved nothing

    def test_work_queues_follow_the_status(self, backend):
        d = uid()
        change = accrued(d)
        write(backend, change)
        c = change.after
        write(backend, (scheduled := cm.schedule(c, NOW, 60, NOW)))
        due = [x for x in backend.commissions.due("2990-11-29T02:01:00Z", 1000) if x.distributor_id == d]
        assert [x.commission_id for x in due] == [c.commission_id]
        assert not [x for x in backend.commissions.due("2990-11-29T02:00:59Z", 1000) if x.distributor_id == d]
        write(backend, (settleable := cm.make_settleable(scheduled.after, "2990-11-29T02:01:00Z")))
        assert not [x for x in backend.commissions.due("2999-01-01T00:00:00Z", 1000) if x.distributor_id == d]
        assert [x.commission_id for x in backend.commissions.settleable(d)] == [c.commission_id]
        assert d in backend.commissions.distributors_with_settleable()
        assert backend.commissions.stats(d).settleable == 1000 and backend.commissions.stats(d).pending == 0
        write(backend, (claimed := cm.claim(settleable.after, "P1", NOW)))
        assert backend.commissions.settleable(d) == []
        assert backend.commissions.get(d, c.commission_id).settlement_id == "P1"
        write(backend, (back := cm.give_back(claimed.after, NOW)))
        assert backend.commissions.get(d, c.commission_id) == back.after and back.after.settlement_id is None
        assert [x.commission_id for x in backend.commissions.settleable(d)] == [c.commission_id]
        write(backend, cm.claim(back.after, "P2", NOW))

    def test_a_refund_of_a_line_is_kept_on_the_commissions_line(self, backend):
        d = uid()
        change = accrued(d)
        write(backend, change)
        reversal = cm.reverse(change.after, "R1", 10_000, 10_000, NOW,
                              [{"line": 0, "sku_id": "s1", "units": 1, "amount": 10_000}])
        write(backend, reversal)
        stored = backend.commissions.get(d, change.after.commission_id)
        assert stored == reversal.after and stored.lines[0]["refunded"] == 10_000
        assert stored.amount == 500

    def test_a_refund_after_payout_is_a_debt_owed_once_and_deducted_never_below_zero(self, backend):
        d = uid()
        change = accrued(d)
        write(backend, change)
        c = change.after
        for step in (lambda x: cm.schedule(x, NOW, 0, NOW), lambda x: cm.make_settleable(x, NOW),
                     lambda x: cm.claim(x, "P1", NOW), lambda x: cm.settle(x, NOW)):
            nxt = step(c)
            write(backend, nxt)
            c = nxt.after
        reversal = cm.reverse(c, "R1", 5_000, 0, NOW)
        write(backend, reversal)
        with pytest.raises(Exists):  # the same refund's debt again (a stale read): nothing written
            tx = backend.new_tx()
            backend.commissions.stage_debt(tx, reversal.debt, on_exists=Exists)
            backend.commissions.stage_stats(tx, d, {"debt": 250})
            tx.commit()
        assert backend.commissions.get(d, c.commission_id).refund_ids == {"R1"}
        assert backend.commissions.settleable(d) == []
        assert backend.commissions.debt_entries(d) == [reversal.debt]
        assert backend.commissions.stats(d) == Stats(sales_count=1, sales_amount=15_000, settled=1000,
                                                     reversed=250, debt=250)

        def deduct(payout_id, amount):
            tx = backend.new_tx()
            backend.commissions.stage_deduction(tx, debts.deduction(d, payout_id, amount, NOW), on_short=Stale)
            tx.commit()

        with pytest.raises(Stale):  # more than is owed: never below 0
            deduct("P2", 251)
        deduct("P2", 200)
        with pytest.raises(Stale):  # once per payout
            deduct("P2", 50)
        with pytest.raises(Stale):
            deduct("P3", 51)
        deduct("P3", 50)
        entries = backend.commissions.debt_entries(d)
        assert sorted((e.kind, e.amount, e.payout_id or e.refund_id) for e in entries) == [
            ("DEBT", 250, "R1"), ("DEDUCTION", 50, "P3"), ("DEDUCTION", 200, "P2")]
        stats = backend.commissions.stats(d)
        assert (stats.debt, stats.deducted) == (0, 250) and debts.balance(entries) == 0
        assert backend.commissions.debt_entries(uid()) == []

    def test_templates_distributors_and_groups(self, backend):
        t = Template(uid("ct_"), "导购", ({"name": "基础", "rate_bps": 500, "min_sales_count": 0,
                                         "min_sales_amount": 0},), NOW)
        backend.distributors.create_template(t)
        assert backend.distributors.get_template(t.template_id) == t
        m1, m2, a = uid(), uid(), uid()
        d = Distributor(a, t.template_id, NOW, NOW, m1)
        tx = backend.new_tx()
        backend.distributors.stage_save(tx, d, None)
        tx.commit()
        assert backend.distributors.get(a, consistent=True) == d
        assert backend.distributors.get_many([a, uid()]) == {a: d}
        assert backend.distributors.group(m1, 10, None) == ([a], None)
        assert backend.distributors.get_manager(m1).user_id == m1
        moved = replace(d, manager_id=m2, updated_at="2026-11-30T00:00:00Z")
        tx = backend.new_tx()
        backend.distributors.stage_save(tx, moved, d)
        tx.commit()
        assert backend.distributors.group(m1, 10, None) == ([], None)
        assert backend.distributors.group(m2, 10, None)[0] == [a]
        named = backend.distributors.upsert_manager(m1, "王", "2026-12-01T00:00:00Z")
        assert (named.name, named.created_at) == ("王", NOW)

    def test_managers_are_listed_newest_first_a_page_at_a_time(self, backend):
        # far ahead of every other manager, so the walk below is short
        older, newer = uid(), uid()
        backend.distributors.upsert_manager(older, "甲", "9990-01-01T00:00:00Z")
        backend.distributors.upsert_manager(newer, None, "9990-01-02T00:00:00Z")
        seen, cursor = [], None
        for _ in range(50):
            page, cursor = backend.distributors.list_managers(1, cursor)
            seen += [m.user_id for m in page]
            if older in seen or not cursor:
                break
        assert older in seen and seen.index(newer) < seen.index(older)
        assert backend.distributors.get_manager(older).name == "甲"

    def test_shares_and_last_touch_bindings(self, backend):
        a, b, customer = uid(), uid(), uid()
        share = Share(uuid.uuid4().hex[:22], a, NOW, "p1")
        backend.distributors.create_share(share)
        assert backend.distributors.get_share(share.token) == share
        assert backend.distributors.get_share("nope") is None
        first = Binding(customer, a, "2026-11-29T02:00:00Z", "2026-12-06T02:00:00Z", share.token)
        assert backend.distributors.put_binding(first, ttl_epoch=2_000_000_000)
        newer = Binding(customer, b, "2026-11-29T03:00:00Z", "2026-12-06T03:00:00Z")
        assert backend.distributors.put_binding(newer, ttl_epoch=2_000_000_000)
        older = Binding(customer, a, "2026-11-29T02:30:00Z", "2026-12-06T02:30:00Z")
        assert not backend.distributors.put_binding(older, ttl_epoch=2_000_000_000)
        assert backend.distributors.get_binding(customer) == newer
        assert backend.distributors.count_customers(b, "2026-12-01T00:00:00Z") == 1
        assert backend.distributors.count_customers(b, "2026-12-07T00:00:00Z") == 0
        assert backend.distributors.count_customers(a, "2026-12-01T00:00:00Z") == 0

    def _guide_records(self, backend, distributor_id):
        if hasattr(backend.distributors, "guide_records"):
            return backend.distributors.guide_records(distributor_id, 10, None)[0]
        from layers.storage.guide_customers import DynamoGuideCustomerReader

        return DynamoGuideCustomerReader().records(distributor_id, 10, None)[0]

    def test_a_binding_writes_the_guides_record_and_a_move_ends_the_old_one(self, backend):
        a, b, c1, c2 = uid(), uid(), uid(), uid()
        put = backend.distributors.put_binding
        assert put(Binding(c1, a, "2026-11-29T02:00:00Z", "2026-12-06T02:00:00Z"), ttl_epoch=2_000_000_000)
        assert put(Binding(c2, a, "2026-11-29T04:00:00Z", "2026-12-06T04:00:00Z"), ttl_epoch=2_000_000_000)
        # a again: bound_at and expiry move, first_bound_at stays
        assert put(Binding(c1, a, "2026-11-30T02:00:00Z", "2026-12-07T02:00:00Z"), ttl_epoch=2_000_000_000)
        records = self._guide_records(backend, a)
        assert [(r.customer_id, r.first_bound_at, r.bound_at, r.binding_expires_at) for r in records] == [
            (c1, "2026-11-29T02:00:00Z", "2026-11-30T02:00:00Z", "2026-12-07T02:00:00Z"),
            (c2, "2026-11-29T04:00:00Z", "2026-11-29T04:00:00Z", "2026-12-06T04:00:00Z")]
        # c1 moves to b: a's record ends at the moment of the move; b gets one
        assert put(Binding(c1, b, "2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z"), ttl_epoch=2_000_000_000)
        ended = {r.customer_id: r for r in self._guide_records(backend, a)}[c1]
        assert (ended.bound_at, ended.binding_expires_at) == ("2026-11-30T02:00:00Z", "2026-12-01T00:00:00Z")
        assert [(r.customer_id, r.binding_expires_at) for r in self._guide_records(backend, b)] == [
            (c1, "2026-12-08T00:00:00Z")]
        # an older, delayed touch of a changes neither the binding nor any record
        assert not put(Binding(c1, a, "2026-11-30T12:00:00Z", "2026-12-07T12:00:00Z"), ttl_epoch=2_000_000_000)
        assert backend.distributors.get_binding(c1).distributor_id == b
        assert {r.customer_id: r for r in self._guide_records(backend, a)}[c1] == ended
        # c2's binding to a expired on its own before b touched them: its expiry stays
        assert put(Binding(c2, b, "2026-12-10T00:00:00Z", "2026-12-17T00:00:00Z"), ttl_epoch=2_000_000_000)
        assert {r.customer_id: r for r in self._guide_records(backend, a)}[c2].binding_expires_at == \
            "2026-12-06T04:00:00Z"
        assert [r.customer_id for r in self._guide_records(backend, b)] == [c2, c1]
