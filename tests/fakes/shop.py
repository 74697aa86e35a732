"""The order and refund services wired over one in-memory store, as functions/wiring.py
wires them over DynamoDB: for service tests of orders and of whatever places orders
(flash sales), with WeChat Pay played by FakePayGateway."""

from __future__ import annotations

from types import SimpleNamespace

from layers.services.orders import OrderService
from layers.services.refunds import RefundService
from layers.services.reservations import Reservations
from tests.fakes.catalog import MemoryStockRepository
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.money import MemoryAnomalyRepository, MemoryLedgerRepository
from tests.fakes.orders import (
    MemoryOrderRepository,
    MemoryOutbox,
    MemoryRefundRepository,
    RecordingPublisher,
)
from tests.fakes.placement import MemoryPlacementReader
from tests.fakes.wechat_pay import FakePayGateway


class Expiry:
    def __init__(self):
        self.scheduled = []

    def schedule(self, order_id, expires_at):
        self.scheduled.append(order_id)


class FakeShop:
    def __init__(self, store: MemoryStore | None = None, clock: FakeClock | None = None,
                 reservation_kinds: dict | None = None, coupons=None):
        self.store = store or MemoryStore()
        self.clock = clock or FakeClock()
        self.pay = FakePayGateway()
        self.stock = MemoryStockRepository(self.store)
        self.orders_repo = MemoryOrderRepository(self.store)
        self.refunds_repo = MemoryRefundRepository(self.store)
        self.outbox = MemoryOutbox(self.store)
        self.publisher = RecordingPublisher(self.outbox)
        self.ledger = MemoryLedgerRepository(self.store)
        self.anomalies = MemoryAnomalyRepository(self.store, self.clock)
        self.expiry = Expiry()
        reservations = Reservations({"sku": self.stock, **(reservation_kinds or {})})
        self.common = dict(reservations=reservations, coupons=coupons, ledger=self.ledger, outbox=self.outbox,
                           publisher=self.publisher, anomalies=self.anomalies, pay=self.pay, clock=self.clock,
                           new_tx=self.store.tx, notify_url=lambda path: "https://shop.example" + path)
        self.refunds = self.refund_service(self.orders_repo)
        users = SimpleNamespace(get_user=lambda uid: SimpleNamespace(openid=f"openid-{uid}"))
        self.reads = MemoryPlacementReader(users, self.stock, coupons=getattr(coupons, "coupons", None))
        self.orders = OrderService(
            orders=self.orders_repo, catalog=self.stock, users=users,
            attribution=lambda user, token, now, binding=None: None, expiry=self.expiry, refunds=self.refunds,
            settings=SimpleNamespace(wechatpay_mchid=self.pay.mchid, wechat_appid=self.pay.appid),
            reads=self.reads, **self.common)

    def refund_service(self, orders) -> RefundService:
        """A refund service (another container, say) over the same store."""
        return RefundService(orders=orders, refunds=self.refunds_repo, **self.common)
