"""Shipping and its upload to WeChat over the in-memory fakes: the documented body, one
upload per delivery, retries of -1 / 10060001 with backoff, FAILED with WeChat's code,
one change of shipping information, trade management."""

from __future__ import annotations

from datetime import timedelta

import pytest

from layers.domain import errors
from layers.domain.shipping import shipping_info
from layers.services.shipping import ShippingService
from tests.fakes.shipping import (
    FakeMiniProgramApi,
    MemoryShippingUploads,
    MemoryTradeManagementCache,
)
from tests.unit.test_order_service import Shop

EXPRESS = shipping_info("express", "SF", "SF1234567890")


class ShippingShop(Shop):
    def __init__(self):
        super().__init__()
        self.api = FakeMiniProgramApi()
        self.uploads = MemoryShippingUploads(self.store)
        self.retries: list[tuple[str, int]] = []
        self.shipping = ShippingService(
            orders=self.orders_repo, uploads=self.uploads, trade_managed=MemoryTradeManagementCache(self.store),
            api=self.api, order_view=self.orders.view, shop=self.stock, outbox=self.outbox,
            publisher=self.publisher, anomalies=self.anomalies,
            send_retry=lambda order_id, delay: self.retries.append((order_id, delay)),
            clock=self.clock, new_tx=self.store.tx, mchid=self.pay.mchid)

    def paid_order(self) -> str:
        order = self.place()
        self.paid(order["id"])
        return order["id"]

    def deliver_events(self) -> None:
        """The events consumer: every published order.shipped, once each."""
        for message in list(self.publisher.sent):
            if message["type"] == "order.shipped" and not message.get("done"):
                message["done"] = True
                self.shipping.on_order_shipped(message["event_id"], message["payload"])


@pytest.fixture
def shop():
    s = ShippingShop()
    s.add_sku()
    return s


def test_shipping_uploads_once_with_the_documented_fields(shop):
    order_id = shop.paid_order()
    view = shop.shipping.ship(order_id, EXPRESS)
    assert view["status"] == "SHIPPED"
    assert view["shipping"] == {"logistics_type": "express", "express_company": "SF",
                                "tracking_no": "SF1234567890", "upload_status": "PENDING"}
    shop.deliver_events()
    shop.shipping.on_order_shipped("again", {"order_id": order_id})  # a duplicate delivery
    assert len(shop.api.uploads) == 1
    body = shop.api.uploads[0]
    assert body["order_key"] == {"order_number_type": 1, "mchid": shop.pay.mchid, "out_trade_no": order_id}
    assert body["logistics_type"] == 1 and body["delivery_mode"] == 1
    assert isinstance(body["shipping_list"], list) and len(body["shipping_list"]) == 1
    parcel = body["shipping_list"][0]
    assert parcel["tracking_no"] == "SF1234567890" and parcel["express_company"] == "SF"
    assert parcel["contact"] == {"receiver_contact": "138****0000"}  # SF asks for it, masked
    assert parcel["item_desc"] == "龙井*2" and len(parcel["item_desc"]) <= 120
    assert body["upload_time"] == "2026-11-29T10:00:00.000+08:00"
    assert body["payer"] == {"openid": "openid-u1"}
    assert shop.orders.get_for_user("u1", order_id)["shipping"]["upload_status"] == "UPLOADED"


def test_busy_and_not_yet_booked_are_retried_with_backoff_then_uploaded_once(shop):
    order_id = shop.paid_order()
    shop.api.answers = [10060001, -1]
    shop.shipping.ship(order_id, shipping_info("pickup", None, None))
    shop.deliver_events()
    assert shop.retries == [(order_id, 10)]
    assert shop.shipping.retry_due()["shipping_uploads"] == {}  # not due yet
    shop.clock.current += timedelta(seconds=10)
    shop.shipping.upload(order_id)  # the delayed message
    assert shop.retries[-1] == (order_id, 20)
    shop.clock.current += timedelta(seconds=20)
    assert shop.shipping.retry_due()["shipping_uploads"] == {"UPLOADED": 1}  # the sweep, say
    assert len(shop.api.uploads) == 1 and shop.api.uploads[0]["logistics_type"] == 4
    assert shop.shipping.get_upload(order_id)["attempts"] == 3


def test_another_errcode_fails_with_it_shows_as_an_anomaly_and_an_operator_retries(shop):
    order_id = shop.paid_order()
    shop.api.answers = [10060005]
    shop.shipping.ship(order_id, EXPRESS)
    shop.deliver_events()
    upload = shop.shipping.get_upload(order_id)
    assert upload["status"] == "FAILED" and upload["error_code"] == 10060005
    assert shop.orders.get_for_user("u1", order_id)["shipping"]["upload_status"] == "FAILED"
    assert [a.kind for a in shop.anomalies.for_order(order_id)] == ["SHIPPING_UPLOAD_FAILED"]
    assert shop.shipping.retry(order_id)["status"] == "UPLOADED"
    assert len(shop.api.uploads) == 1


def test_one_change_of_shipping_information_then_refused(shop):
    order_id = shop.paid_order()
    shop.shipping.ship(order_id, EXPRESS)
    shop.deliver_events()
    assert shop.shipping.ship(order_id, EXPRESS)["shipping"]["tracking_no"] == "SF1234567890"  # a retry
    changed = shop.shipping.ship(order_id, shipping_info("express", "ZTO", "ZTO-2"))
    assert changed["shipping"]["upload_status"] == "PENDING"
    shop.clock.current += timedelta(seconds=1)
    shop.deliver_events()
    assert [u["shipping_list"][0]["tracking_no"] for u in shop.api.uploads] == ["SF1234567890", "ZTO-2"]
    with pytest.raises(errors.InvalidState):
        shop.shipping.ship(order_id, shipping_info("express", "YTO", "YTO-3"))
    assert shop.orders.get_for_user("u1", order_id)["shipping"]["tracking_no"] == "ZTO-2"


def test_only_a_paid_order_ships_and_express_needs_its_numbers(shop):
    order = shop.place()
    with pytest.raises(errors.InvalidState):
        shop.shipping.ship(order["id"], EXPRESS)
    with pytest.raises(errors.InvalidRequest):
        shipping_info("express", "SF", None)
    with pytest.raises(errors.NotFound):
        shop.shipping.ship("nope", EXPRESS)


def test_a_merchant_not_under_trade_management_uploads_nothing_and_is_asked_daily(shop):
    shop.api.managed = False
    order_id = shop.paid_order()
    shop.shipping.ship(order_id, EXPRESS)
    shop.deliver_events()
    assert shop.api.uploads == []
    assert shop.shipping.get_upload(order_id)["status"] == "NOT_REQUIRED"
    assert shop.api.trade_managed_calls == 1  # cached
    shop.clock.current += timedelta(days=1, seconds=1)
    shop.shipping.is_trade_managed()
    assert shop.api.trade_managed_calls == 2
