"""The message push over the in-memory fakes: settlement completes a shipped order through
the order service's own transition, once; what is not ours or not shipped changes nothing."""

from __future__ import annotations

import json

import pytest

from layers.domain import errors
from layers.domain.message_push import InvalidPush
from layers.services.message_push import MessagePushService
from tests.unit.test_shipping_service import EXPRESS, ShippingShop


class Crypto:
    safe_mode_required = False

    def check_signature(self, signature, timestamp, nonce):
        if signature != "good":
            raise InvalidPush("bad")

    def decrypt(self, encrypted, msg_signature, timestamp, nonce):
        if msg_signature != "good":
            raise InvalidPush("bad")
        return encrypted


@pytest.fixture
def shop():
    s = ShippingShop()
    s.add_sku()
    s.push = MessagePushService(crypto=Crypto(), orders=s.orders, anomalies=s.anomalies, mchid=s.pay.mchid,
                                clock=s.clock)
    return s


def settlement(order_id, mchid):
    """The push at settlement: it carries the receipt's and the settlement's times."""
    return {**at_shipping(order_id, mchid), "confirm_receive_method": 2, "confirm_receive_time": 1764990000,
            "settlement_time": 1764990000}


def at_shipping(order_id, mchid):
    """The push when WeChat accepts the shipping information: only the estimate."""
    return {"Event": "trade_manage_order_settlement", "merchant_trade_no": order_id, "merchant_id": mchid,
            "shipped_time": 1764130000, "estimated_settlement_time": 1764994000}


def receive(shop, event, signature="good", safe=False, timestamp=None):
    timestamp = str(int(shop.clock.now().timestamp())) if timestamp is None else timestamp
    if safe:
        return shop.push.receive({"signature": signature, "timestamp": timestamp, "nonce": "n",
                                  "msg_signature": "good", "encrypt_type": "aes"},
                                 json.dumps({"Encrypt": json.dumps(event)}))
    return shop.push.receive({"signature": signature, "timestamp": timestamp, "nonce": "n"}, json.dumps(event))


def test_a_plaintext_push_more_than_five_minutes_away_is_refused_and_changes_nothing(shop):
    order_id = shop.paid_order()
    shop.shipping.ship(order_id, EXPRESS)
    now = int(shop.clock.now().timestamp())
    for stale in (now - 301, now + 301, 0, "", "soon", "1e9"):
        with pytest.raises(errors.Unauthorized):
            receive(shop, settlement(order_id, shop.pay.mchid), timestamp=str(stale))
    assert shop.orders_repo.get(order_id).status == "SHIPPED"
    assert receive(shop, settlement(order_id, shop.pay.mchid), timestamp=str(now - 299)) == "success"
    assert shop.orders_repo.get(order_id).status == "COMPLETED"


def test_settlement_completes_a_shipped_order_once_with_its_event(shop):
    order_id = shop.paid_order()
    shop.shipping.ship(order_id, EXPRESS)
    assert receive(shop, settlement(order_id, shop.pay.mchid), safe=True) == "success"
    done = shop.orders_repo.get(order_id)
    assert done.status == "COMPLETED"
    assert receive(shop, settlement(order_id, shop.pay.mchid)) == "success"
    assert shop.orders_repo.get(order_id).version == done.version
    completed = [m for m in shop.publisher.sent if m["type"] == "order.completed"]
    assert len(completed) == 1 and completed[0]["payload"]["automatic"] is False


def test_the_push_at_shipping_time_is_acknowledged_and_changes_nothing(shop):
    order_id = shop.paid_order()
    shop.shipping.ship(order_id, EXPRESS)
    shipped = shop.orders_repo.get(order_id)
    assert receive(shop, at_shipping(order_id, shop.pay.mchid), safe=True) == "success"
    assert shop.push.handle(at_shipping(order_id, shop.pay.mchid)) == "ESTIMATED"
    after = shop.orders_repo.get(order_id)
    assert after.status == "SHIPPED" and after.version == shipped.version
    assert not [m for m in shop.publisher.sent if m["type"] == "order.completed"]


def test_what_is_forged_not_ours_or_not_shipped_changes_nothing(shop):
    order_id = shop.paid_order()
    with pytest.raises(errors.Unauthorized):
        receive(shop, settlement(order_id, shop.pay.mchid), signature="forged")
    receive(shop, settlement(order_id, "another-merchant"))
    assert shop.orders_repo.get(order_id).status == "PAID"
    receive(shop, settlement(order_id, shop.pay.mchid))  # WeChat settled what we never shipped
    receive(shop, settlement(order_id, shop.pay.mchid))
    assert shop.orders_repo.get(order_id).status == "PAID"
    assert [a.kind for a in shop.anomalies.for_order(order_id)] == ["SETTLED_NOT_SHIPPED"]
    with pytest.raises(errors.InvalidRequest):
        shop.push.receive({"signature": "good", "timestamp": "1", "nonce": "n"}, b"not json")
    assert shop.push.url_check({"signature": "good", "timestamp": "1", "nonce": "n", "echostr": "e"}) == "e"
