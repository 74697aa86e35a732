"""Shopper notifications after payment: an `order_paid` subscription message, to
shoppers who accepted that template, once per order (the reminder marker makes a
duplicate event send nothing)."""

from __future__ import annotations

from layers.events import on


@on("order.paid")
def tell_the_shopper(event_id: str, payload: dict) -> None:
    from layers.services.reminders import remind

    remind(payload["user_id"], "order_paid", payload["order_id"], {
        "character_string1": {"value": payload["order_id"]},
        "amount2": {"value": f"{int(payload.get('payable', 0)) / 100:.2f}元"},
        "thing3": {"value": "支付成功，我们会尽快为您发货"}},
        page=f"pages/order/detail?id={payload['order_id']}")
