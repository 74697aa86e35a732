"""The after-sale service over in-memory repositories, with the one refund path: refund
only, return and refund, exchange, cancel, reject, the window, the timers, the amount,
a failed refund sent back to try again, restock in the stock ledger, the shopper's
"my orders" count, and idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.schemas import AfterSaleInput, PlaceOrderInput, ReturnShipmentInput
from layers.domain import errors
from layers.domain.catalog import Sku
from layers.domain.shop_settings import ShopSettings
from layers.services.after_sales import AfterSaleService
from tests.fakes.after_sales import MemoryAfterSaleRepository
from tests.fakes.catalog import MemoryCatalogRepository, MemorySettingsRepository
from tests.fakes.shop import FakeShop

ADDRESS = {"name": "退货仓", "phone": "13800000000", "detail": "上海市浦东新区 1 号"}
DAY = 86400


class Shop(FakeShop):
    def __init__(self):
        super().__init__()
        self.pay.refund_status = "SUCCESS"  # WeChat answers at once; one test waits for the notification
        self.after_sales_repo = MemoryAfterSaleRepository(self.store)
        self.refunds.after_sales = self.after_sales_repo
        self.orders.after_sales = self.after_sales_repo
        self.settings = MemorySettingsRepository(self.store)
        self.settings.save_settings(ShopSettings(return_address=ADDRESS), "t")
        self.catalog = MemoryCatalogRepository(self.store, self.settings)
        self.service = AfterSaleService(
            after_sales=self.after_sales_repo, orders=self.orders_repo, refunds=self.refunds, catalog=self.catalog,
            shop=self.settings, outbox=self.outbox, publisher=self.publisher, clock=self.clock,
            new_tx=self.store.tx, order_view=self.orders.view)
        for sku_id, price in (("s1", 1000), ("s2", 2000)):
            self.store.items[("sku", sku_id)] = Sku(sku_id=sku_id, product_id="p1", title="龙井", category="tea",
                                                    price=price, stock=10)

    def stock_of(self, sku_id: str) -> int:
        return self.store.items[("sku", sku_id)].stock

    def delivered(self, complete=True, user="u1") -> str:
        body = PlaceOrderInput.model_validate({
            "items": [{"sku_id": "s1", "quantity": 3}, {"sku_id": "s2", "quantity": 1}],
            "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
        order_id = self.orders.place_order(user, body, None)["id"]
        self.orders.mark_paid(order_id, self.pay.pay(order_id))
        self.orders.ship(order_id)
        if complete:
            self.orders.confirm_receipt(user, order_id)
        return order_id

    def ask(self, order_id, kind="return_refund", items=(("s1", 1),), reason="DAMAGED", amount=None, key=None,
            user="u1") -> dict:
        body = AfterSaleInput.model_validate({
            "kind": kind, "items": [{"sku_id": s, "quantity": q} for s, q in items], "reason_code": reason,
            **({"amount": amount} if amount is not None else {})})
        return self.service.request(user, order_id, body, key)

    def order(self, order_id):
        return self.orders_repo.get(order_id)

    def messages(self, kind):
        return [m for m in self.publisher.sent if m["type"] == kind]


@pytest.fixture
def shop():
    return Shop()


def test_refund_only_is_refunded_when_approved(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id, kind="refund_only", reason="NOT_RECEIVED", items=(("s2", 1),))
    assert (a["status"], a["amount"]) == ("REQUESTED", 2000)
    assert shop.orders.summary("u1")["after_sales"] == 1
    shop.pay.refund_status = "PROCESSING"
    waiting = shop.service.approve(a["id"], note="同意")
    assert waiting["status"] == "REFUNDING" and shop.orders.summary("u1")["after_sales"] == 1
    shop.refunds.on_refund_result(waiting["refund_id"], "SUCCESS")  # WeChat's notification
    done = shop.service.get("u1", a["id"])
    assert done["status"] == "REFUNDED" and done["refund_id"] == waiting["refund_id"]
    refund = shop.refunds_repo.get(order_id, done["refund_id"])
    assert (refund.amount, refund.after_sale_id, refund.status) == (2000, a["id"], "SUCCESS")
    assert [ln["sku_id"] for ln in refund.lines] == ["s2"]
    order = shop.order(order_id)
    assert (order.refunded_amount, order.status, order.line_refunds["1"]["units"]) == (2000, "COMPLETED", 1)
    assert [h["status"] for h in done["history"]] == ["REQUESTED", "REFUNDING", "REFUNDED"]
    assert done["history"][1]["by"] == "owner" and done["history"][1]["note"] == "同意"
    assert shop.messages("after_sale.approved") and shop.messages("after_sale.refunded")
    assert shop.orders.summary("u1")["after_sales"] == 0
    assert shop.service.approve(a["id"])["status"] == "REFUNDED"  # again: the same answer, no second refund
    assert len(shop.refunds_repo.for_order(order_id)) == 1


def test_return_and_refund_with_restock(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id, items=(("s1", 2),), amount=1500)
    approved = shop.service.approve(a["id"])
    assert approved["status"] == "AWAITING_RETURN" and approved["return_address"] == ADDRESS
    assert shop.messages("after_sale.approved")[0]["payload"]["return_address"] == ADDRESS
    body = ReturnShipmentInput(express_company="SF", tracking_no="SF100")
    assert shop.service.send_back("u1", a["id"], body)["status"] == "RETURNING"
    assert shop.service.send_back("u1", a["id"], body)["status"] == "RETURNING"  # a retry
    before = shop.stock_of("s1")
    done = shop.service.receive(a["id"], restock=True)
    assert done["status"] == "REFUNDED" and done["restocked"]
    assert shop.stock_of("s1") == before + 2
    entries, _ = shop.catalog.stock_entries("p1", 10, None)
    assert entries[0].moves == {"s1": 2} and a["id"] in entries[0].reason
    assert shop.service.receive(a["id"], restock=True)["status"] == "REFUNDED"
    assert shop.stock_of("s1") == before + 2  # restocked once
    assert shop.service.send_back("u1", a["id"], body)["status"] == "REFUNDED"  # a late retry: the same answer
    with pytest.raises(errors.InvalidState):
        shop.service.send_back("u1", a["id"], ReturnShipmentInput(express_company="SF", tracking_no="other"))
    order = shop.order(order_id)
    assert order.refunded_amount == 1500
    # the two units stay taken for all they paid: the line's last unit is worth only its own share
    assert order.line_refunds["0"] == {"units": 2, "amount": 2000}
    last = shop.ask(order_id, kind="refund_only", reason="DAMAGED", items=(("s1", 1),))
    assert last["amount"] == 1000


def test_receive_without_restock_leaves_stock(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id)
    shop.service.approve(a["id"])
    shop.service.send_back("u1", a["id"], ReturnShipmentInput(express_company="SF", tracking_no="1"))
    before = shop.stock_of("s1")
    assert shop.service.receive(a["id"], restock=False)["status"] == "REFUNDED"
    assert shop.stock_of("s1") == before


def test_exchange_ships_a_replacement(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id, kind="exchange", reason="WRONG_SIZE")
    assert a["amount"] == 0
    shop.service.approve(a["id"])
    shop.service.send_back("u1", a["id"], ReturnShipmentInput(express_company="SF", tracking_no="1"))
    received = shop.service.receive(a["id"], restock=True)
    assert received["status"] == "RETURNING" and received["received_at"]
    shipping = {"logistics_type": "express", "express_company": "SF", "tracking_no": "SF2"}
    done = shop.service.ship(a["id"], shipping)
    assert done["status"] == "EXCHANGED" and done["replacement_shipping"] == shipping
    assert shop.service.ship(a["id"], shipping)["status"] == "EXCHANGED"
    assert shop.order(order_id).refunded_amount == 0
    # the line is free again for another after-sale
    assert shop.ask(order_id, kind="exchange", reason="WRONG_SIZE")["status"] == "REQUESTED"


def test_one_open_after_sale_per_line_and_cancel_frees_it(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id)
    with pytest.raises(errors.AfterSaleOpen):
        shop.ask(order_id, items=(("s1", 1),))
    assert shop.ask(order_id, items=(("s2", 1),))["status"] == "REQUESTED"
    assert shop.orders.summary("u1")["after_sales"] == 2
    assert shop.service.cancel("u1", a["id"])["status"] == "CANCELLED"
    assert shop.service.cancel("u1", a["id"])["status"] == "CANCELLED"
    assert shop.orders.summary("u1")["after_sales"] == 1
    assert shop.ask(order_id)["status"] == "REQUESTED"


def test_reject_with_a_reason(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id)
    rejected = shop.service.reject(a["id"], "照片看不出破损")
    assert rejected["status"] == "REJECTED" and rejected["reject_reason"] == "照片看不出破损"
    assert shop.messages("after_sale.rejected")[0]["payload"]["reason"] == "照片看不出破损"
    with pytest.raises(errors.InvalidState):
        shop.service.approve(a["id"])


def test_only_within_the_window_of_a_shipped_or_completed_order(shop):
    shipped = shop.delivered(complete=False)
    assert shop.ask(shipped)["status"] == "REQUESTED"
    order_id = shop.delivered()
    shop.clock.advance(7 * DAY + 1)
    with pytest.raises(errors.AfterSalesClosed):
        shop.ask(order_id)
    body = PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": 1}],
                                           "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
    paid = shop.orders.place_order("u1", body, None)["id"]
    shop.orders.mark_paid(paid, shop.pay.pay(paid))
    with pytest.raises(errors.AfterSalesClosed):
        shop.ask(paid)


def test_the_amount_is_at_most_what_the_units_paid(shop):
    order_id = shop.delivered()
    with pytest.raises(errors.AmountTooLarge):
        shop.ask(order_id, items=(("s1", 1),), amount=1001)
    assert shop.store.scan(("after_sale",)) == []


def test_another_shoppers_after_sale_is_not_found(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id)
    with pytest.raises(errors.NotFound):
        shop.service.get("u2", a["id"])
    with pytest.raises(errors.NotFound):
        shop.service.cancel("u2", a["id"])
    with pytest.raises(errors.NotFound):
        shop.ask(order_id, user="u2")


def test_the_idempotency_key(shop):
    order_id = shop.delivered()
    first = shop.ask(order_id, key="k1")
    assert shop.ask(order_id, key="k1") == first
    with pytest.raises(errors.IdempotencyKeyReused):
        shop.ask(order_id, key="k1", items=(("s2", 1),))


def test_a_failed_refund_sends_it_back_to_be_answered_again(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id, kind="refund_only", reason="NOT_RECEIVED", items=(("s2", 1),))
    shop.pay.fault("refund", "USER_ACCOUNT_ABNORMAL")
    back = shop.service.approve(a["id"])
    assert back["status"] == "REQUESTED" and back["history"][-1]["note"] == "退款失败，可重新处理"
    assert shop.order(order_id).refund_room == shop.order(order_id).paid
    done = shop.service.approve(a["id"])
    assert done["status"] == "REFUNDED" and done["refund_id"] != back["refund_id"]
    assert shop.order(order_id).refunded_amount == 2000


def test_an_unknown_refund_outcome_keeps_it_refunding_until_the_sweep(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id, kind="refund_only", reason="NOT_RECEIVED", items=(("s2", 1),))
    shop.pay.fault("refund", "SYSTEM_ERROR")
    assert shop.service.approve(a["id"])["status"] == "REFUNDING"
    assert shop.order(order_id).status == "REFUNDING"
    assert shop.orders.summary("u1")["after_sales"] == 1  # the order's REFUNDING, not twice
    shop.refunds.sweep()
    assert shop.service.get("u1", a["id"])["status"] == "REFUNDED"


def test_the_auto_approval_timer(shop):
    order_id = shop.delivered()
    refund_only = shop.ask(order_id, kind="refund_only", reason="NOT_RECEIVED", items=(("s2", 1),))
    ret = shop.ask(order_id)
    assert shop.service.auto_approve_due() == {"after_sales_approved": 0, "after_sales_not_approved": 0}
    shop.clock.advance(2 * DAY)
    assert shop.service.auto_approve_due()["after_sales_approved"] == 2
    assert shop.service.get("u1", refund_only["id"])["status"] == "REFUNDED"
    waiting = shop.service.get("u1", ret["id"])
    assert waiting["status"] == "AWAITING_RETURN" and waiting["history"][-1]["by"] == "system"
    assert shop.service.auto_approve_due()["after_sales_approved"] == 0  # idempotent


def test_auto_approval_off(shop):
    shop.settings.save_settings(ShopSettings(return_address=ADDRESS, after_sales_auto_approve_s=0), "t")
    order_id = shop.delivered()
    a = shop.ask(order_id)
    shop.clock.advance(30 * DAY)
    shop.service.auto_approve_due()
    assert shop.service.get("u1", a["id"])["status"] == "REQUESTED"


def test_the_return_window_closes_it(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id)
    shop.service.approve(a["id"])
    shop.clock.advance(7 * DAY - 1)
    assert shop.service.close_unreturned() == {"after_sales_closed": 0}
    shop.clock.advance(1)
    assert shop.service.close_unreturned() == {"after_sales_closed": 1}
    assert shop.service.close_unreturned() == {"after_sales_closed": 0}
    closed = shop.service.get("u1", a["id"])
    assert closed["status"] == "CLOSED" and shop.orders.summary("u1")["after_sales"] == 0
    assert shop.ask(order_id, kind="refund_only", reason="DAMAGED")["status"] == "REQUESTED"  # the line is free


def test_returns_need_the_shops_return_address(shop):
    shop.settings.save_settings(ShopSettings(), "t")
    order_id = shop.delivered()
    a = shop.ask(order_id)
    with pytest.raises(errors.InvalidState):
        shop.service.approve(a["id"])


def test_two_after_sales_never_refund_more_than_the_room(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id, kind="refund_only", reason="NOT_RECEIVED", items=(("s1", 3),))
    b = shop.ask(order_id, kind="refund_only", reason="NOT_RECEIVED", items=(("s2", 1),))
    order = shop.order(order_id)
    # a plain refund of most of the payment meanwhile
    from functions.schemas import RefundInput

    shop.refunds.request_refund("u1", order_id, RefundInput(amount=order.paid - 2500, reason="协商"), None)
    shop.refunds.approve(shop.refunds_repo.for_order(order_id)[0].refund_id)
    assert shop.service.approve(b["id"])["status"] == "REFUNDED"
    with pytest.raises(errors.AmountTooLarge):
        shop.service.approve(a["id"])
    order = shop.order(order_id)
    assert order.refunded_amount + order.refunding_amount <= order.paid


def test_the_admin_detail_and_lists(shop):
    order_id = shop.delivered()
    a = shop.ask(order_id)
    detail = shop.service.detail(a["id"])
    assert detail["order"]["id"] == order_id and detail["lines"][0]["title"] == "龙井"
    assert detail["user_id"] == "u1" and detail["history"]
    items, _ = shop.service.listed("REQUESTED", "return_refund", 20, None)
    assert [i["id"] for i in items] == [a["id"]]
    assert shop.service.listed("REQUESTED", "exchange", 20, None)[0] == []
    with pytest.raises(errors.InvalidRequest):
        shop.service.listed("NOPE", None, 20, None)
    mine, _ = shop.service.mine("u1", 20, None)
    assert [m["id"] for m in mine] == [a["id"]]
    assert shop.clock.now() - timedelta(seconds=1) < shop.clock.now()
