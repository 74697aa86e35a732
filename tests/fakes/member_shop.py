"""A FakeShop with members: the books, the points reservation kind, balance
payment and refunds, and top-ups, over one in-memory store."""

from __future__ import annotations

from types import SimpleNamespace

from functions.schemas import PlaceOrderInput, RefundInput, TopUpInput, TopUpPlanInput
from layers.domain.members import BALANCE, POINTS
from layers.domain.shop_settings import ShopSettings
from layers.services.members import MemberService, TopUpService
from tests.fakes.members import MemoryMemberRepository, MemoryTopUpRepository
from tests.fakes.memory import MemoryStore
from tests.fakes.shop import FakeShop


class MemberShop(FakeShop):
    def __init__(self, settings: ShopSettings | None = None):
        store = MemoryStore()
        self.members_repo = MemoryMemberRepository(store)
        self.shop_rules = settings or ShopSettings()
        self.members = MemberService(members=self.members_repo, orders=None, shop_settings=lambda: self.shop_rules,
                                     clock=None, new_tx=store.tx)
        super().__init__(store=store, reservation_kinds={"points": self.members})
        self.members.orders, self.members.clock = self.orders_repo, self.clock
        self.orders.members = self.members
        self.refunds.members = self.members
        self.reads.members = self.members_repo
        self.top_ups_repo = MemoryTopUpRepository(store)
        self.top_ups = TopUpService(
            top_ups=self.top_ups_repo, members=self.members_repo,
            users=SimpleNamespace(get_user=lambda uid: SimpleNamespace(openid=f"openid-{uid}")),
            pay=self.pay, outbox=self.outbox, publisher=self.publisher, anomalies=self.anomalies, clock=self.clock,
            new_tx=store.tx, settings=SimpleNamespace(wechatpay_mchid=self.pay.mchid, wechat_appid=self.pay.appid),
            notify_url=lambda path: "https://shop.example" + path, ledger=self.ledger)

    # -- acting ----------------------------------------------------------------------------

    def top_up(self, user="u1", pay=10000, bonus=1000, times=1) -> dict:
        plan = self.top_ups.create_plan(TopUpPlanInput(pay=pay, bonus=bonus))
        top_up = self.top_ups.create(user, TopUpInput(plan_id=plan["id"]), None)
        trade = self.pay.pay(top_up["id"])
        for _ in range(times):
            self.top_ups.on_paid(trade)
        return top_up

    def place(self, user="u1", sku="s1", quantity=1, pay_with="wechat", points=None, key=None) -> dict:
        body = PlaceOrderInput.model_validate({
            "items": [{"sku_id": sku, "quantity": quantity}], "pay_with": pay_with, "points": points,
            "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
        return self.orders.place_order(user, body, key)

    def refund(self, order_id: str, amount=None, user="u1") -> dict:
        return self.refunds.request_refund(user, order_id, RefundInput(amount=amount, reason="不想要了"), None)

    def deliver_events(self) -> None:
        """What the event consumers of wiring.event_handlers() do with members' events."""
        handlers = {"order.paid": self.members.on_order_paid, "order.completed": self.members.on_order_completed,
                    "order.refunded": self.members.on_order_refunded}
        while self.publisher.sent:
            message = self.publisher.sent.pop(0)
            handler = handlers.get(message.get("type"))
            if handler is not None:
                handler(message["event_id"], message["payload"])

    # -- looking -----------------------------------------------------------------------------

    def book(self, user="u1", book=BALANCE):
        return self.members_repo.get_book(user, book)

    def ledger_of(self, user="u1", book=BALANCE) -> dict:
        entries = self.members_repo.entries_for(user, book, "")
        parts = ("principal", "bonus") if book == BALANCE else ("available", "frozen")
        return {p: sum(getattr(m, p) for m in entries) for p in parts}

    def assert_books_equal_ledgers(self, user="u1") -> None:
        b, p = self.book(user, BALANCE), self.book(user, POINTS)
        assert self.ledger_of(user, BALANCE) == {"principal": b.principal, "bonus": b.bonus}
        assert self.ledger_of(user, POINTS) == {"available": p.available, "frozen": p.frozen}
        assert b.principal >= 0 and b.bonus >= 0 and p.frozen >= 0
