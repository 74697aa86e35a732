"""One suite, two stores: the in-memory order and refund repositories that service
tests use must behave as the DynamoDB ones do (conditions, versions, queues)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from layers.domain import order as rules
from layers.domain import refund as refund_rules
from layers.domain.order import Order
from layers.domain.refund import Refund


class Stale(Exception):
    pass


class Exists(Exception):
    pass


class Backend:
    def __init__(self, orders, refunds, new_tx):
        self.orders, self.refunds, self.new_tx = orders, refunds, new_tx


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.orders import MemoryOrderRepository, MemoryRefundRepository

        store = MemoryStore()
        return Backend(MemoryOrderRepository(store), MemoryRefundRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.orders import DynamoOrderRepository
    from layers.storage.refunds import DynamoRefundRepository
    from layers.storage.tx import Tx

    return Backend(DynamoOrderRepository(), DynamoRefundRepository(), Tx)


def an_order(**changes) -> Order:
    order_id = "o" + uuid.uuid4().hex[:25]
    values = dict(order_id=order_id, user_id="u_" + uuid.uuid4().hex[:8], openid="openid-1",
                  status=rules.PENDING, items=({"sku_id": "s1", "product_id": "p1", "title": "茶", "category": None,
                                                 "quantity": 2, "unit_price": 1500, "commission": None},),
                  amounts={"goods": 3000, "discount": 0, "shipping": 0, "payable": 3000},
                  # Far ahead: an order left open here must never be due for the shared table's sweeps.
                  created_at="2026-11-29T02:00:00Z", expires_at="2999-01-01T00:00:00Z",
                  address={"name": "张三", "phone": "13800000000", "detail": "南京西路 1 号"},
                  reservations=({"kind": "sku", "sku_id": "s1", "quantity": 2},))
    values.update(changes)
    return Order(**values)


def create(backend, order: Order) -> None:
    tx = backend.new_tx()
    backend.orders.stage_create(tx, order, on_exists=Exists)
    tx.commit()


def change(backend, before: Order, after: Order) -> None:
    tx = backend.new_tx()
    backend.orders.stage_change(tx, before, after, on_stale=Stale)
    tx.commit()


class TestOrderRepository:
    def test_what_is_created_reads_back_the_same(self, backend):
        order = an_order()
        create(backend, order)
        assert backend.orders.get(order.order_id, consistent=True) == order

    def test_the_freight_breakdown_reads_back(self, backend):
        from layers.domain.freight import Freight, FreightPart

        freight = Freight(total=1900, parts=(
            FreightPart("ft_1", "按重", 2, 1450, 3000, 1100, "default"),
            FreightPart(None, None, 1, 0, 2000, 800, "flat"))).as_dict()
        order = an_order(freight=freight, amounts={"goods": 5000, "discount": 0, "shipping": 1900, "payable": 6900})
        create(backend, order)
        assert backend.orders.get(order.order_id, consistent=True).freight == freight
        assert backend.orders.get(order.order_id, consistent=True) == order
        bare = an_order()
        create(backend, bare)
        assert backend.orders.get(bare.order_id, consistent=True).freight is None

    def test_units_of_lines_refunded_land_with_the_refund_room_under_the_version(self, backend):
        order = an_order()
        create(backend, order)
        paid = rules.pay(order, "4200000001", 3000, "2026-11-29T02:01:00Z").after
        change(backend, order, paid)
        _, lines, first = rules.request_line_refund(paid, [{"sku_id": "s1", "quantity": 1}])
        change(backend, paid, first.after)
        stored = backend.orders.get(order.order_id, consistent=True)
        assert stored == first.after and stored.line_refunds == {"0": {"units": 1, "amount": 1500}}
        # a second refund of the same unit decided from the read before the first: stale
        _, _, racing = rules.request_line_refund(paid, [{"sku_id": "s1", "quantity": 1}])
        with pytest.raises(Stale):
            change(backend, paid, racing.after)
        assert backend.orders.get(order.order_id, consistent=True).line_refunds == {"0": {"units": 1, "amount": 1500}}
        failed = rules.finish_refund(stored, "r1", 1500, False, "t", lines).after
        change(backend, stored, failed)
        assert backend.orders.get(order.order_id, consistent=True).line_refunds == {"0": {"units": 0, "amount": 0}}

    def test_an_id_is_created_once(self, backend):
        order = an_order()
        create(backend, order)
        with pytest.raises(Exists):
            create(backend, replace(order, amounts={**order.amounts, "payable": 1}))
        assert backend.orders.get(order.order_id, consistent=True).payable == 3000

    def test_a_transition_lands_with_its_version(self, backend):
        order = an_order()
        create(backend, order)
        paid = rules.pay(order, "4200000001", 3000, "2026-11-29T02:01:00Z").after
        change(backend, order, paid)
        stored = backend.orders.get(order.order_id, consistent=True)
        assert stored == paid and stored.version == 1 and stored.refund_room == 3000

    def test_a_decision_from_a_stale_read_changes_nothing(self, backend):
        order = an_order()
        create(backend, order)
        closed = rules.close(order, "CANCELLED", "2026-11-29T02:01:00Z").after
        change(backend, order, closed)
        # A payment decided from the read before the close must not land.
        paid = rules.pay(order, "4200000001", 3000, "2026-11-29T02:01:00Z").after
        with pytest.raises(Stale):
            change(backend, order, paid)
        assert backend.orders.get(order.order_id, consistent=True) == closed

    def test_a_stale_part_fails_the_whole_transaction(self, backend):
        order, other = an_order(), an_order()
        create(backend, order)
        create(backend, other)
        tx = backend.new_tx()
        backend.orders.stage_change(tx, other, rules.close(other, "EXPIRED", "t").after, on_stale=Stale)
        backend.orders.stage_change(tx, replace(order, version=7), rules.close(order, "EXPIRED", "t").after,
                                    on_stale=Stale)
        with pytest.raises(Stale):
            tx.commit()
        assert backend.orders.get(other.order_id, consistent=True) == other

    def test_a_field_set_to_none_is_removed(self, backend):
        order = an_order(close_reason="x")
        create(backend, order)
        after = replace(order, close_reason=None, version=1)
        change(backend, order, after)
        assert backend.orders.get(order.order_id, consistent=True).close_reason is None

    def test_unpaid_orders_are_due_when_they_expire_and_not_after_closing(self, backend):
        order = an_order(expires_at="2000-01-01T00:00:00Z")
        create(backend, order)
        due = [o.order_id for o in backend.orders.due(rules.OPEN_ORDERS, "2000-01-01T00:00:01Z", limit=500)]
        assert order.order_id in due
        assert order.order_id not in [o.order_id for o in backend.orders.due(
            rules.OPEN_ORDERS, "1999-12-31T23:59:59Z", limit=500)]
        change(backend, order, rules.close(order, "EXPIRED", "2000-01-01T00:00:02Z").after)
        assert order.order_id not in [o.order_id for o in backend.orders.due(
            rules.OPEN_ORDERS, "2000-01-01T00:00:01Z", limit=500)]

    def test_shipped_orders_wait_for_automatic_receipt(self, backend):
        order = an_order()
        create(backend, order)
        paid = rules.pay(order, "t1", 3000, "2026-11-29T02:01:00Z").after
        change(backend, order, paid)
        shipped = rules.ship(paid, "2026-11-29T03:00:00Z", "2001-01-01T00:00:00Z").after
        change(backend, paid, shipped)
        due = backend.orders.due(rules.SHIPPED_ORDERS, "2001-01-01T00:00:01Z", limit=500)
        assert order.order_id in [o.order_id for o in due]
        done = rules.confirm_receipt(shipped, "2001-01-01T00:00:02Z", automatic=True).after
        change(backend, shipped, done)
        due = backend.orders.due(rules.SHIPPED_ORDERS, "2001-01-01T00:00:01Z", limit=500)
        assert order.order_id not in [o.order_id for o in due]

    def test_a_shoppers_orders_newest_first_by_status(self, backend):
        user = "u_" + uuid.uuid4().hex[:8]
        first = an_order(user_id=user, created_at="2026-11-29T01:00:00Z")
        second = an_order(user_id=user, created_at="2026-11-29T02:00:00Z")
        create(backend, first)
        create(backend, second)
        change(backend, first, rules.close(first, "CANCELLED", "t").after)
        listed, _ = backend.orders.list_for_user(user, None, 10, None)
        assert [o.order_id for o in listed] == [second.order_id, first.order_id]
        listed, _ = backend.orders.list_for_user(user, rules.CLOSED, 10, None)
        assert [o.order_id for o in listed] == [first.order_id]

    def test_the_prepay_id_is_kept_only_while_unpaid(self, backend):
        order = an_order()
        create(backend, order)
        assert backend.orders.set_prepay_id(order.order_id, "wx1") is True
        assert backend.orders.get(order.order_id, consistent=True).prepay_id == "wx1"
        current = backend.orders.get(order.order_id, consistent=True)
        change(backend, current, rules.close(current, "CANCELLED", "t").after)
        assert backend.orders.set_prepay_id(order.order_id, "wx2") is False
        assert backend.orders.set_prepay_id("o" + uuid.uuid4().hex[:25], "wx3") is False


class TestRefundRepository:
    def a_refund(self, **changes) -> Refund:
        order_id = "o" + uuid.uuid4().hex[:25]
        values = dict(refund_id=refund_rules.refund_id_for(order_id, "u1", None), order_id=order_id, user_id="u1",
                      # REQUESTED waits for an operator: no sweep of the shared table acts on it.
                      amount=500, reason="不想要了", status=refund_rules.REQUESTED,
                      created_at="2026-11-29T02:00:00Z", updated_at="2026-11-29T02:00:00Z", automatic=True)
        values.update(changes)
        return Refund(**values)

    def create(self, backend, refund):
        tx = backend.new_tx()
        backend.refunds.stage_create(tx, refund, on_exists=Exists)
        tx.commit()

    def test_created_refunds_read_back_and_list_by_order(self, backend):
        refund = self.a_refund()
        self.create(backend, refund)
        assert backend.refunds.get(refund.order_id, refund.refund_id) == refund
        assert backend.refunds.for_order(refund.order_id) == [refund]
        with pytest.raises(Exists):
            self.create(backend, refund)

    def test_a_refund_of_lines_reads_back_its_lines(self, backend):
        refund = self.a_refund(lines=({"line": 1, "sku_id": "s2", "units": 2, "amount": 1333},))
        self.create(backend, refund)
        assert backend.refunds.get(refund.order_id, refund.refund_id) == refund
        bare = self.a_refund()
        self.create(backend, bare)
        assert backend.refunds.get(bare.order_id, bare.refund_id).lines == ()

    def test_an_open_refund_waits_until_it_ends_once(self, backend):
        refund = self.a_refund()
        self.create(backend, refund)
        assert refund.refund_id in [r.refund_id for r in backend.refunds.waiting(refund_rules.REQUESTED, 1000)]
        approved = refund_rules.approve(refund, "t1")
        tx = backend.new_tx()
        backend.refunds.stage_change(tx, refund, approved, on_stale=Stale)
        tx.commit()
        assert refund.refund_id not in [r.refund_id for r in backend.refunds.waiting(refund_rules.REQUESTED, 1000)]
        done = refund_rules.finish(approved, refund_rules.SUCCESS, "t2")
        tx = backend.new_tx()
        backend.refunds.stage_change(tx, approved, done, on_stale=Stale)
        tx.commit()
        # A second notification decided from the PROCESSING read must not land again.
        tx = backend.new_tx()
        backend.refunds.stage_change(tx, approved, refund_rules.finish(approved, refund_rules.CLOSED, "t3"),
                                     on_stale=Stale)
        with pytest.raises(Stale):
            tx.commit()
        assert backend.refunds.get(refund.order_id, refund.refund_id).status == refund_rules.SUCCESS

    def test_wechat_refund_id_is_kept(self, backend):
        refund = self.a_refund()
        self.create(backend, refund)
        backend.refunds.set_wechat_refund_id(refund, "50300001")
        assert backend.refunds.get(refund.order_id, refund.refund_id).wechat_refund_id == "50300001"


# -- a cap on a shopper's unpaid orders ------------------------------------------

@pytest.fixture(params=["memory", "dynamodb"])
def capped(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.orders import MemoryOrderRepository, MemoryRefundRepository

        store = MemoryStore()
        return Backend(MemoryOrderRepository(store, unpaid_cap=2), MemoryRefundRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.orders import DynamoOrderRepository
    from layers.storage.refunds import DynamoRefundRepository
    from layers.storage.tx import Tx

    return Backend(DynamoOrderRepository(unpaid_cap=2), DynamoRefundRepository(), Tx)


def test_a_shopper_holds_at_most_the_cap_of_unpaid_orders_and_leaving_pending_frees_a_place(capped):
    from layers.domain import errors

    user = "u_" + uuid.uuid4().hex[:8]
    first, second, third, fourth = (an_order(user_id=user) for _ in range(4))
    create(capped, first)
    create(capped, second)
    with pytest.raises(errors.LimitExceeded):
        create(capped, third)
    assert capped.orders.get(third.order_id, consistent=True) is None
    create(capped, an_order())  # another shopper is not held back
    with pytest.raises(Exists):  # a retried creation counts nothing
        create(capped, first)
    paid = rules.pay(first, "4200000001", 3000, "2026-11-29T10:00:00Z").after
    change(capped, first, paid)
    with pytest.raises(Stale):  # the same transition again frees nothing more
        change(capped, first, paid)
    create(capped, third)
    with pytest.raises(errors.LimitExceeded):
        create(capped, fourth)
    # Closing frees a place, and so does deleting an unpaid order (prepay failed).
    change(capped, second, rules.close(second, "CANCELLED", "2026-11-29T10:00:00Z").after)
    create(capped, fourth)
    tx = capped.new_tx()
    capped.orders.stage_delete(tx, third, on_stale=Stale)
    tx.commit()
    create(capped, an_order(user_id=user))
    with pytest.raises(errors.LimitExceeded):
        create(capped, an_order(user_id=user))
    # Paid after it was closed (reinstated): not unpaid again, nothing counted.
    closed = capped.orders.get(second.order_id, consistent=True)
    change(capped, closed, rules.pay(closed, "4200000002", 3000, "2026-11-29T10:00:00Z").after)
    with pytest.raises(errors.LimitExceeded):
        create(capped, an_order(user_id=user))


# -- the shopper's order counts (layers/domain/order_counts.py) -------------------------------

def counts(backend, user: str) -> dict:
    return {status: n for status, n in backend.orders.counts(user).items() if n}


def as_before_the_counts(backend, order: Order) -> Order:
    """The order as stored before the counts existed: not counted, and no counters."""
    if hasattr(backend.orders, "store"):
        items = backend.orders.store.items
        items[("order", order.order_id)] = replace(items[("order", order.order_id)], counted=False)
        items.pop(("order_counts", order.user_id), None)
    else:
        from layers.storage.orders import OrderCountsItem, OrderItem, counts_key, order_key

        OrderItem(*order_key(order.order_id)).update(actions=[OrderItem.counted.remove()])
        OrderCountsItem(*counts_key(order.user_id)).delete()
    stored = backend.orders.get(order.order_id, consistent=True)
    assert stored.counted is False and counts(backend, order.user_id) == {}
    return stored


def test_every_write_moves_its_shoppers_counts_and_no_one_elses(capped):
    user = "u_" + uuid.uuid4().hex[:8]
    order, other = an_order(user_id=user), an_order()
    create(capped, order)
    create(capped, other)
    assert counts(capped, user) == {"PENDING_PAYMENT": 1} == counts(capped, other.user_id)
    paid = rules.pay(order, "4200000001", 3000, "2026-11-29T10:00:00Z").after
    change(capped, order, paid)
    with pytest.raises(Stale):  # the same transition again moves nothing
        change(capped, order, paid)
    assert counts(capped, user) == {"PAID": 1}
    shipped = rules.ship(paid, "2026-11-29T11:00:00Z", "2999-01-01T00:00:00Z").after
    change(capped, paid, shipped)
    _, refunding = rules.request_refund(shipped, 1000)
    change(capped, shipped, refunding.after)
    assert counts(capped, user) == {"REFUNDING": 1}
    back = rules.finish_refund(refunding.after, "r1", 1000, True, "2026-11-29T12:00:00Z").after
    change(capped, refunding.after, back)
    assert back.status == rules.SHIPPED and counts(capped, user) == {"SHIPPED": 1}
    change(capped, back, rules.confirm_receipt(back, "2026-11-29T13:00:00Z", automatic=False).after)
    assert counts(capped, user) == {}
    deleted = an_order(user_id=user)
    create(capped, deleted)
    tx = capped.new_tx()
    capped.orders.stage_delete(tx, deleted, on_stale=Stale)
    tx.commit()
    assert counts(capped, user) == {} and counts(capped, other.user_id) == {"PENDING_PAYMENT": 1}
    # a payment from the balance creates the order PAID
    create(capped, rules.pay_from_balance(an_order(user_id=user), {"principal": 3000, "bonus": 0},
                                                       "2026-11-29T10:00:00Z").after)
    assert counts(capped, user) == {"PAID": 1}
    assert counts(capped, "u_nobody" + uuid.uuid4().hex[:8]) == {}


def test_an_order_stored_before_the_counts_is_counted_by_its_next_write_once(backend):
    order = an_order()
    create(backend, order)
    paid = rules.pay(order, "4200000001", 3000, "2026-11-29T10:00:00Z").after
    change(backend, order, paid)
    legacy = as_before_the_counts(backend, paid)
    shipped = rules.ship(legacy, "2026-11-29T11:00:00Z", "2999-01-01T00:00:00Z").after
    change(backend, legacy, shipped)  # nothing to take away: it was never counted
    assert counts(backend, order.user_id) == {"SHIPPED": 1}
    assert backend.orders.get(order.order_id, consistent=True).counted is True


def test_counting_an_order_makes_a_decision_from_the_uncounted_read_stale(backend):
    order = an_order()
    create(backend, order)
    legacy = as_before_the_counts(backend, order)
    found = [o.order_id for o in backend.orders.uncounted_unpaid()]
    assert order.order_id in found
    change(backend, legacy, replace(legacy, counted=True))  # the backfill counts it, same version
    assert counts(backend, order.user_id) == {"PENDING_PAYMENT": 1}
    assert order.order_id not in [o.order_id for o in backend.orders.uncounted_unpaid()]
    with pytest.raises(Stale):  # decided from the read before: it would count the order twice
        change(backend, legacy, rules.close(legacy, "EXPIRED", "t").after)
    with pytest.raises(Stale):
        tx = backend.new_tx()
        backend.orders.stage_delete(tx, legacy, on_stale=Stale)
        tx.commit()
    current = backend.orders.get(order.order_id, consistent=True)
    change(backend, current, rules.close(current, "EXPIRED", "t").after)
    assert counts(backend, order.user_id) == {}


def test_uncounted_paid_orders_are_found_by_their_paid_day(backend):
    order = an_order()
    create(backend, order)
    paid = rules.pay(order, "4200000001", 3000, "2026-11-29T10:00:00Z").after  # 18:00 in Beijing
    change(backend, order, paid)
    assert order.order_id not in [o.order_id for o in backend.orders.uncounted_paid_on("2026-11-29")]
    as_before_the_counts(backend, paid)
    assert order.order_id in [o.order_id for o in backend.orders.uncounted_paid_on("2026-11-29")]
    assert order.order_id not in [o.order_id for o in backend.orders.uncounted_paid_on("2026-11-28")]
