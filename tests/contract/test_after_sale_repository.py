"""The after-sale repository: in memory and on DynamoDB Local, alike. One open after-sale
per order line (the lock goes with its end), a stale write fails, the lists, the timer
queues and the shopper's open count follow each write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import after_sale as rules
from layers.domain import order as order_rules
from layers.domain.order import Order

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ADDRESS = {"name": "退货仓", "phone": "13800000000", "detail": "1 号"}


class _Exists(Exception):
    pass


class _Busy(Exception):
    pass


class _Stale(Exception):
    pass


@dataclass
class Env:
    repo: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.after_sales import MemoryAfterSaleRepository
        from tests.fakes.memory import MemoryStore

        store = MemoryStore()
        return Env(MemoryAfterSaleRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.after_sales import DynamoAfterSaleRepository
    from layers.storage.tx import Tx

    return Env(DynamoAfterSaleRepository(), Tx)


def _order(order_id: str, user_id: str) -> Order:
    items = ({"sku_id": "a", "product_id": "p", "quantity": 3, "unit_price": 1000, "paid": 3000},
             {"sku_id": "b", "product_id": "p", "quantity": 1, "unit_price": 500, "paid": 500})
    return Order(order_id=order_id, user_id=user_id, openid="op", status=order_rules.COMPLETED, items=items,
                 amounts={"goods": 3500, "discount": 0, "shipping": 0, "payable": 3500},
                 created_at="2026-11-20T00:00:00Z", expires_at="2026-11-20T00:15:00Z", paid_amount=3500,
                 refund_room=3500, completed_at="2026-11-30T00:00:00Z", shipped_at="2026-11-21T00:00:00Z")


def _new(order: Order, sku="a", kind="return_refund", now=NOW, auto=86400) -> rules.AfterSale:
    return rules.request(after_sale_id=rules.after_sale_id_for(order.order_id, order.user_id, None), order=order,
                         kind=kind, items=[{"sku_id": sku, "quantity": 1}], reason_code="DAMAGED", amount=None,
                         description=None, images=(), now=now, window_s=7 * 86400, auto_approve_s=auto,
                         request_hash="h").after


def _create(env: Env, a) -> str:
    tx = env.new_tx()
    env.repo.stage_create(tx, a, on_exists=_Exists, on_line_busy=_Busy)
    try:
        tx.commit()
    except (_Exists, _Busy) as exc:
        return type(exc).__name__
    return "created"


def _change(env: Env, before, after) -> str:
    tx = env.new_tx()
    env.repo.stage_change(tx, before, after, on_stale=_Stale)
    try:
        tx.commit()
    except _Stale:
        return "stale"
    return "changed"


def _ids(prefix=""):
    return prefix + "o" + uuid.uuid4().hex[:20], "u_" + uuid.uuid4().hex[:12]


class TestAfterSaleRepository:
    def test_it_reads_back_as_written_and_counts_open_ones(self, env):
        order_id, user = _ids()
        a = _new(_order(order_id, user))
        assert _create(env, a) == "created"
        assert env.repo.get(order_id, a.after_sale_id) == a
        assert env.repo.for_order(order_id) == [a]
        assert env.repo.open_count(user) == 1
        assert _create(env, a) == "_Exists"

    def test_one_open_after_sale_per_line_until_it_ends(self, env):
        order_id, user = _ids()
        order = _order(order_id, user)
        first = _new(order)
        assert _create(env, first) == "created"
        assert _create(env, _new(order)) == "_Busy"  # the same line
        other = _new(order, sku="b")
        assert _create(env, other) == "created"  # another line
        ended = rules.cancel(first, "user", NOW).after
        assert _change(env, first, ended) == "changed"
        assert env.repo.open_count(user) == 1
        assert _create(env, _new(order)) == "created"  # the line is free again

    def test_a_stale_write_fails_and_changes_nothing(self, env):
        order_id, user = _ids()
        a = _new(_order(order_id, user))
        _create(env, a)
        approved = rules.approve(a, "owner", NOW, ADDRESS, 86400).after
        assert _change(env, a, approved) == "changed"
        assert _change(env, a, rules.cancel(a, "user", NOW).after) == "stale"
        assert env.repo.get(order_id, a.after_sale_id) == approved

    def test_lists_by_status_oldest_first_and_by_shopper_newest_first(self, env):
        order_id, user = _ids()
        order = _order(order_id, user)
        older = _new(order, sku="a", now=NOW - timedelta(hours=1))
        newer = _new(order, sku="b", kind="exchange")
        _create(env, older)
        _create(env, newer)
        mine, _ = env.repo.for_user(user, 10, None)
        assert [a.after_sale_id for a in mine] == [newer.after_sale_id, older.after_sale_id]
        listed = []
        cursor = None
        while True:  # other tests' after-sales share the status: page until ours are seen
            page, cursor = env.repo.by_status("REQUESTED", None, 100, cursor)
            listed += [a.after_sale_id for a in page if a.order_id == order_id]
            if cursor is None:
                break
        assert listed == [older.after_sale_id, newer.after_sale_id]
        exchanges, cursor = [], None
        while True:
            page, cursor = env.repo.by_status("REQUESTED", "exchange", 100, cursor)
            exchanges += [a.after_sale_id for a in page if a.order_id == order_id]
            if cursor is None:
                break
        assert exchanges == [newer.after_sale_id]
        approved = rules.approve(older, "owner", NOW, ADDRESS, 86400).after
        _change(env, older, approved)
        page, _ = env.repo.by_status("AWAITING_RETURN", None, 100, None)
        assert approved.after_sale_id in [a.after_sale_id for a in page]

    def test_timers_are_due_at_their_time_and_leave_with_the_state(self, env):
        order_id, user = _ids()
        a = _new(_order(order_id, user), auto=3600)
        _create(env, a)

        def due(queue, at):
            return [x.after_sale_id for x in env.repo.due(queue, at, 1000) if x.order_id == order_id]

        assert due(rules.AUTO_APPROVE, "2026-12-01T08:59:59Z") == []
        assert due(rules.AUTO_APPROVE, "2026-12-01T09:00:00Z") == [a.after_sale_id]
        approved = rules.approve(a, "owner", NOW, ADDRESS, 7200).after
        _change(env, a, approved)
        assert due(rules.AUTO_APPROVE, "2026-12-31T00:00:00Z") == []
        assert due(rules.RETURN_DUE, "2026-12-01T10:00:00Z") == [a.after_sale_id]
        sent = rules.send_back(approved, "user", "SF", "1", NOW).after
        _change(env, approved, sent)
        assert due(rules.RETURN_DUE, "2026-12-31T00:00:00Z") == []
        assert env.repo.open_count(user) == 1
        received = rules.receive(sent, "owner", False, NOW).after
        _change(env, sent, received)
        refunding = rules.start_refund(received, "owner", "r1", NOW).after
        _change(env, received, refunding)
        assert env.repo.open_count(user) == 0  # counted through its order's REFUNDING
        assert env.repo.get(order_id, a.after_sale_id).history == refunding.history
