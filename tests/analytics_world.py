"""A small world for analytics tests: paid orders and succeeded refunds written through
the order and refund repositories (in memory or on DynamoDB Local), the analytics
service over them, and the analytics queue played by a list."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from layers.domain.analytics import Fact
from layers.domain.order import Order
from layers.domain.refund import Refund
from layers.services.analytics import AnalyticsService


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_year() -> int:
    """Days are shop-wide keys: each test counts in a year of its own."""
    return random.randint(2200, 9000)


@dataclass
class FakeVisits:
    visitors: dict = field(default_factory=dict)

    def daily_visitors(self, day: str) -> int:
        return self.visitors[day]


@dataclass
class World:
    orders: object
    refunds: object
    analytics: object
    new_tx: object
    user_coupons: object = None
    coupon_templates: object = None
    clock: object = None
    commissions: dict = field(default_factory=dict)
    coupon_templates_of: dict = field(default_factory=dict)
    visits: FakeVisits = field(default_factory=FakeVisits)
    sent: list = field(default_factory=list)
    max_items: int = 100

    def __post_init__(self):
        self.clock = self.clock or SimpleNamespace(now=lambda: datetime(2026, 11, 29, 2, 0, tzinfo=UTC))
        self.user_coupons = self.user_coupons or SimpleNamespace(
            get=lambda cid, consistent=True: SimpleNamespace(template_id=self.coupon_templates_of[cid])
            if cid in self.coupon_templates_of else None)
        self.coupon_templates = self.coupon_templates or SimpleNamespace(
            listed=lambda limit, cursor: ([], None), post_payment=lambda: [], issued_total=lambda tid: 0)
        self.service = AnalyticsService(
            analytics=self.analytics, orders=self.orders, refunds=self.refunds, user_coupons=self.user_coupons,
            coupon_templates=self.coupon_templates,
            commission_of=lambda oid: SimpleNamespace(accrued=self.commissions[oid]) if oid in self.commissions else None,
            send=lambda url, body: self.sent.append(body), queue_url="analytics-queue", visits=self.visits,
            clock=self.clock, new_tx=self.new_tx, max_items=self.max_items)

    # -- the shop's side ------------------------------------------------------------------
    def paid(self, user_id: str, paid_at: datetime, lines: list[tuple[str, int, int]], *, shipping: int = 0,
             discount: int = 0, distributor_id: str | None = None, commission: int = 0,
             coupon_template: str | None = None) -> Order:
        """A paid order of `lines` [(product_id, quantity, unit_price)], stored; emits nothing."""
        order_id = "o" + uuid.uuid4().hex[:25]
        items = tuple({"sku_id": f"{pid}-sku", "product_id": pid, "title": f"商品 {pid}", "quantity": q,
                       "unit_price": price, "commission": None} for pid, q, price in lines)
        goods = sum(q * price for _, q, price in lines)
        payable = goods - discount + shipping
        coupon_id = None
        if coupon_template:
            coupon_id = "c" + uuid.uuid4().hex[:12]
            self.coupon_templates_of[coupon_id] = coupon_template
        if distributor_id:
            self.commissions[order_id] = commission
        at = iso(paid_at)
        order = Order(order_id=order_id, user_id=user_id, openid=f"openid-{user_id}", status="PAID", items=items,
                      amounts={"goods": goods, "discount": discount, "shipping": shipping, "payable": payable},
                      created_at=iso(paid_at - timedelta(minutes=1)), expires_at=at, coupon_id=coupon_id,
                      distributor_id=distributor_id, transaction_id="42" + order_id[1:20], paid_at=at,
                      paid_amount=payable, refund_room=payable, version=1)
        tx = self.new_tx()
        self.orders.stage_create(tx, order, on_exists=RuntimeError)
        tx.commit()
        return order

    def refund(self, order_id: str, amount: int, succeeded_at: datetime) -> str:
        """A refund of `amount` that succeeded at `succeeded_at`; returns its id."""
        order = self.orders.get(order_id, consistent=True)
        refund_id = "r" + uuid.uuid4().hex[:20]
        refunded = order.refunded_amount + amount
        after = replace(order, refunded_amount=refunded, refund_room=order.paid - refunded,
                        status="REFUNDED" if refunded >= order.paid else order.status, version=order.version + 1)
        at = iso(succeeded_at)
        refund = Refund(refund_id=refund_id, order_id=order_id, user_id=order.user_id, amount=amount,
                        reason="test", status="SUCCESS", created_at=at, updated_at=at)
        tx = self.new_tx()
        self.orders.stage_change(tx, order, after, on_stale=RuntimeError)
        self.refunds.stage_create(tx, refund, on_exists=RuntimeError)
        tx.commit()
        return refund_id

    # -- events ---------------------------------------------------------------------------
    def emit_paid(self, order: Order) -> None:
        self.service.on_order_paid(f"order.paid:{order.order_id}", {"order_id": order.order_id})

    def emit_refunded(self, order_id: str, refund_id: str, amount: int) -> None:
        self.service.on_order_refunded(f"order.refunded:{refund_id}",
                                       {"order_id": order_id, "refund_id": refund_id, "amount": amount})

    def drain(self, batch: int = 100) -> dict:
        """Consume what was sent to the analytics queue, `batch` messages at a time."""
        totals = {"counted": 0, "duplicates": 0}
        while self.sent:
            messages, self.sent = self.sent[:batch], self.sent[batch:]
            result = self.service.consume([Fact.from_message(m) for m in messages])
            for k in totals:
                totals[k] += result[k]
        return totals


def memory_world(**kwargs) -> World:
    from tests.fakes.analytics import MemoryAnalyticsRepository
    from tests.fakes.memory import MemoryStore
    from tests.fakes.orders import MemoryOrderRepository, MemoryRefundRepository

    store = MemoryStore()
    return World(MemoryOrderRepository(store), MemoryRefundRepository(store), MemoryAnalyticsRepository(store),
                 store.tx, **kwargs)


def dynamo_world(**kwargs) -> World:
    from layers.storage.analytics import DynamoAnalyticsRepository
    from layers.storage.orders import DynamoOrderRepository
    from layers.storage.refunds import DynamoRefundRepository
    from layers.storage.tx import Tx

    return World(DynamoOrderRepository(), DynamoRefundRepository(), DynamoAnalyticsRepository(), Tx, **kwargs)


def beijing(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    from layers.domain.analytics import SHANGHAI

    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)
