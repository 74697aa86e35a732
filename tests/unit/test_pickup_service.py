"""门店自提 over the in-memory fakes: a pickup order has no address and no shipping fee,
gets a unique code once paid (shown whole only to its shopper), is redeemed once by store
staff through the receipt transition with a 用户自提 upload, and is refunded in full when
its window ends uncollected."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from pydantic import ValidationError

from functions.schemas import PlaceOrderInput
from layers.domain import errors
from layers.domain import pickup as rules
from layers.domain.stores import GUIDE, OPERATOR, Staff, Store
from layers.services.pickup import PickupService
from layers.services.shipping import ShippingService
from tests.fakes.pickup import MemoryPickupCodeRepository
from tests.fakes.rate_limits import MemoryRateLimiter
from tests.fakes.shipping import (
    FakeMiniProgramApi,
    MemoryShippingUploads,
    MemoryTradeManagementCache,
)
from tests.fakes.stores import MemoryStoreRepository
from tests.unit.test_order_service import Shop

NOW = "2026-11-29T02:00:00Z"


class PickupShop(Shop):
    def __init__(self):
        super().__init__()
        self.stores = MemoryStoreRepository(self.store)
        self.reads.stores = self.stores
        self.codes = MemoryPickupCodeRepository(self.store)
        self.api = FakeMiniProgramApi()
        self.uploads = MemoryShippingUploads(self.store)
        self.shipping = ShippingService(
            orders=self.orders_repo, uploads=self.uploads, trade_managed=MemoryTradeManagementCache(self.store),
            api=self.api, order_view=self.orders.view, shop=self.stock, outbox=self.outbox,
            publisher=self.publisher, anomalies=self.anomalies, send_retry=lambda order_id, delay: None,
            clock=self.clock, new_tx=self.store.tx, mchid=self.pay.mchid)
        self.orders.pickup_codes = self.codes
        self.orders.upload_pickup = self.shipping
        self.limiter = MemoryRateLimiter(self.store)
        self.pickup = PickupService(orders=self.orders, order_repository=self.orders_repo, codes=self.codes,
                                    stores=self.stores, rate_limiter=self.limiter, refunds=self.refunds,
                                    clock=self.clock)
        for store_id, pickup in (("st1", True), ("st2", True), ("shut", False)):
            self.stores.put(Store(store_id=store_id, name=f"门店{store_id}", address="西湖区", lat=30.2, lng=120.1,
                                  phone="0571-88888888", hours="9:00-21:00", pickup=pickup, created_at=NOW,
                                  updated_at=NOW))

    def place_pickup(self, store_id="st1", user="u1", quantity=1) -> dict:
        body = PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": quantity}],
                                               "delivery": {"kind": "pickup", "store_id": store_id}})
        return self.orders.place_order(user, body, None)

    def paid_pickup(self, store_id="st1") -> dict:
        order = self.place_pickup(store_id)
        self.orders.mark_paid(order["id"], self.pay.pay(order["id"]))
        return self.orders.get_for_user("u1", order["id"])

    def add_staff(self, kind, staff_id, store_id) -> None:
        tx = self.store.tx()
        self.stores.stage_add_staff(tx, Staff(store_id, kind, staff_id, NOW, "owner"), None, on_raced=RuntimeError)
        tx.commit()


@pytest.fixture
def shop():
    s = PickupShop()
    s.add_sku()
    s.stock._settings.save_settings(s.stock.load_settings().model_copy(update={"shipping_fee": 800}), NOW)
    return s


def test_codes_are_12_digits_and_masked_to_their_last_4():
    codes = {rules.new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 12 and c.isdigit() for c in codes)
    assert rules.mask("012345678901") == "****8901"
    assert rules.normalized_code(" 0123-4567 8901 ") == "012345678901"
    assert rules.normalized_code("12345") is None and rules.normalized_code("１２３４５６７８９０１２") is None


def test_a_pickup_body_takes_no_address():
    with pytest.raises(ValidationError):
        PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": 1}],
                                        "delivery": {"kind": "pickup", "store_id": "st1"},
                                        "address": {"name": "张三", "phone": "13800000000", "detail": "1 号"}})
    with pytest.raises(ValidationError):
        PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": 1}]})
    shipped = PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": 1}], "address": {
        "name": "张三", "phone": "13800000000", "detail": "1 号"}})
    assert "delivery" not in shipped.model_dump(mode="json")  # request hashes of shipped orders unchanged


def test_a_pickup_order_has_no_address_and_no_shipping_fee(shop):
    order = shop.place_pickup()
    assert order["address"] is None and order["delivery"] == {"kind": "pickup", "store_id": "st1"}
    assert order["amounts"]["shipping"] == 0 and order["amounts"]["payable"] == 1500
    assert order["pickup"]["code"] is None  # not paid yet
    shipped = shop.place()
    assert shipped["amounts"]["shipping"] == 800


def test_the_store_must_exist_and_take_pickups(shop):
    with pytest.raises(errors.NotFound):
        shop.place_pickup("nowhere")
    with pytest.raises(errors.PickupNotOffered):
        shop.place_pickup("shut")
    assert shop.store.scan(("order",)) == []


def test_the_preview_prices_a_pickup_order_without_shipping(shop):
    body = PlaceOrderInput.model_validate({"items": [{"sku_id": "s1", "quantity": 1}],
                                           "delivery": {"kind": "pickup", "store_id": "st1"}})
    shop.orders.coupons = SimpleNamespace(wallet=lambda user_id, limit: [])
    preview = shop.orders.preview("u1", body)
    assert preview["amounts"]["shipping"] == 0 and preview["delivery"]["store_id"] == "st1"


def test_paid_it_gets_a_code_shown_whole_only_to_its_shopper(shop):
    order = shop.paid_pickup()
    code = order["pickup"]["code"]
    assert len(code) == 12 and code.isdigit()
    assert order["pickup"]["qrcode"].startswith("data:image/png;base64,")
    assert shop.codes.order_of(code) == order["id"]
    admin = shop.orders.view(shop.orders.get(order["id"]))
    assert admin["pickup"]["code"] == "****" + code[-4:] and "qrcode" not in admin["pickup"]
    with pytest.raises(errors.NotFound):
        shop.orders.get_for_user("u2", order["id"])


def test_a_code_already_taken_is_drawn_again(shop):
    taken = "111111111111"
    tx = shop.store.tx()
    shop.codes.stage_claim(tx, taken, "someone-else", on_taken=RuntimeError)
    tx.commit()
    with mock.patch.object(rules, "new_code", side_effect=[taken, "222222222222"]):
        order = shop.paid_pickup()
    assert order["pickup"]["code"] == "222222222222"
    assert shop.codes.order_of(taken) == "someone-else"


def test_redeemed_once_through_the_receipt_transition_with_a_pickup_upload(shop):
    order = shop.paid_pickup()
    shop.add_staff(OPERATOR, "clerk", "st2")
    with pytest.raises(errors.NotFound):  # another store's staff: no order of theirs
        shop.pickup.redeem("st2", order["pickup"]["code"], "operator:clerk")
    assert "order.completed" not in [m["type"] for m in shop.publisher.sent]
    shop.add_staff(OPERATOR, "own-clerk", "st1")
    done = shop.pickup.redeem("st1", order["pickup"]["code"], "operator:own-clerk")
    assert done["status"] == "COMPLETED" and done["pickup"]["redeemed_store_id"] == "st1"
    assert done["pickup"]["code"].startswith("****")
    assert done["shipping"]["logistics_type"] == "pickup"
    types = [m["type"] for m in shop.publisher.sent]
    assert "order.completed" in types and "order.shipped" in types
    completed = next(m for m in shop.publisher.sent if m["type"] == "order.completed")
    assert completed["payload"]["automatic"] is False
    shop.shipping.upload(order["id"])
    assert shop.api.uploads[-1]["logistics_type"] == 4
    assert "tracking_no" not in shop.api.uploads[-1]["shipping_list"][0]
    with pytest.raises(errors.AlreadyRedeemed):
        shop.pickup.redeem("st1", order["pickup"]["code"], "operator:other")


def test_a_code_of_no_paid_pickup_order_is_404(shop):
    unpaid = shop.place_pickup()
    with pytest.raises(errors.NotFound):
        shop.pickup.redeem("st1", "000000000000", "operator:clerk")
    assert unpaid["pickup"]["code"] is None
    order = shop.paid_pickup()
    shop.refunds.refund_in_full(order["id"], "TEST")
    with pytest.raises(errors.NotFound):
        shop.pickup.redeem("st1", order["pickup"]["code"], "operator:clerk")


def test_only_this_stores_guides_and_staff_may_redeem(shop):
    shop.add_staff(GUIDE, "g1", "st1")
    shop.add_staff(OPERATOR, "clerk2", "st2")
    shop.pickup.check_guide("g1", "st1")
    with pytest.raises(errors.Forbidden):
        shop.pickup.check_guide("g1", "st2")
    with pytest.raises(errors.Forbidden):
        shop.pickup.check_guide("u1", "st1")
    shop.pickup.check_operator("clerk2", True, "st2")
    with pytest.raises(errors.NotFound):
        shop.pickup.check_operator("clerk2", True, "st1")
    shop.pickup.check_operator("owner", False, "st1")  # owners and operators: any store


def test_guessing_is_rate_limited_per_staff_member(shop):
    for _ in range(rules.REDEEM_LIMIT):
        with pytest.raises(errors.NotFound):
            shop.pickup.redeem("st1", rules.new_code(), "guide:g1")
    with pytest.raises(errors.RateLimited):
        shop.pickup.redeem("st1", rules.new_code(), "guide:g1")
    with pytest.raises(errors.NotFound):  # another staff member has their own count
        shop.pickup.redeem("st1", rules.new_code(), "guide:g2")


def test_uncollected_past_the_window_it_is_refunded_in_full_once(shop):
    order = shop.paid_pickup()
    window = shop.stock.load_settings().pickup_window_s
    assert shop.pickup.refund_expired() == {"pickup_refunded": 0}
    shop.clock.current += timedelta(seconds=window + 1)
    assert shop.pickup.refund_expired() == {"pickup_refunded": 1}
    after = shop.orders.get(order["id"], consistent=True)
    assert after.status in ("REFUNDING", "REFUNDED") and after.refunding_amount + after.refunded_amount == 1500
    assert shop.pickup.refund_expired() == {"pickup_refunded": 0}
    with pytest.raises(errors.NotFound):
        shop.pickup.redeem("st1", order["pickup"]["code"], "guide:g1")


def test_a_redeemed_order_is_never_refunded_by_the_window(shop):
    order = shop.paid_pickup()
    shop.pickup.redeem("st1", order["pickup"]["code"], "guide:g1")
    shop.clock.current += timedelta(days=30)
    assert shop.pickup.refund_expired() == {"pickup_refunded": 0}
    assert shop.orders.get(order["id"]).status == "COMPLETED"


def test_the_waiting_list_is_per_store(shop):
    one = shop.paid_pickup("st1")
    two = shop.paid_pickup("st2")
    assert [o["id"] for o in shop.pickup.waiting("st1")] == [one["id"]]
    assert {o["id"] for o in shop.pickup.waiting(None)} == {one["id"], two["id"]}
    assert all(o["pickup"]["code"].startswith("****") for o in shop.pickup.waiting(None))
