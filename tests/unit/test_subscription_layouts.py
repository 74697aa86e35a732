"""Subscription templates' layouts in the shop settings: which keyword carries which value,
checked when saved, the old bare template id read with the default layout, and the
`data` each message sends laid out by it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from layers.domain import subscription
from layers.domain.shop_settings import ShopSettings

UNPAID = {"template_id": "T_UNPAID", "fields": {"order_id": "character_string2", "amount": "amount1",
                                                 "expires_at": "time5"}}


def _refused(templates: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        ShopSettings.model_validate({"subscription_templates": templates})
    return str(caught.value)


def test_a_bare_template_id_is_read_with_todays_layout():
    settings = ShopSettings.model_validate({"subscription_templates": {
        "order_unpaid": "T1", "order_paid": "T2", "coupon_expiring": "", "flash_sale_start": {"template_id": "T4"}}})
    dumped = settings.model_dump()["subscription_templates"]
    assert dumped == {
        "order_unpaid": {"template_id": "T1", "fields": {"order_id": "character_string1", "amount": "amount2",
                                                         "expires_at": "time3"}},
        "order_paid": {"template_id": "T2", "fields": {"order_id": "character_string1", "amount": "amount2",
                                                       "note": "thing3"}},
        "flash_sale_start": {"template_id": "T4", "fields": {"title": "thing1", "starts_at": "time2"}}}
    # What is stored reads back the same.
    assert ShopSettings.model_validate(settings.model_dump()).model_dump() == settings.model_dump()


def test_a_layout_of_the_merchants_own_keywords_is_kept():
    settings = ShopSettings.model_validate({"subscription_templates": {"order_unpaid": UNPAID}})
    assert settings.subscription_templates["order_unpaid"].fields == UNPAID["fields"]
    # An optional value may be left out of the template (the message goes without it).
    paid = {"template_id": "T2", "fields": {"order_id": "character_string1", "amount": "amount2"}}
    assert ShopSettings.model_validate({"subscription_templates": {"order_paid": paid}})


def test_a_layout_is_refused_for_an_unknown_value_a_bad_keyword_or_a_missing_value():
    unknown = _refused({"order_unpaid": {**UNPAID, "fields": {**UNPAID["fields"], "discount": "amount3"}}})
    assert "order_unpaid.fields.discount: not a value of this message" in unknown
    for bad in ("title1", "thing", "Thing1", "thing1 ", "thing一", "amount1\n", "thing1234", ""):
        message = _refused({"order_unpaid": {**UNPAID, "fields": {**UNPAID["fields"], "amount": bad}}})
        assert "order_unpaid.fields.amount: " in message and "is not a WeChat keyword" in message, bad
    missing = _refused({"coupon_expiring": {"template_id": "T3", "fields": {"coupon_name": "thing1"}}})
    assert "coupon_expiring.fields.valid_until: the message needs it" in missing
    wrong = _refused({"order_unpaid": {**UNPAID, "fields": {**UNPAID["fields"], "order_id": "thing1"}}})
    assert "order_unpaid.fields.order_id: thing1 cannot show it: use a keyword of kind character_string" in wrong
    twice = _refused({"order_unpaid": {**UNPAID, "fields": {**UNPAID["fields"], "expires_at": "amount1"}}})
    assert "order_unpaid.fields.expires_at: amount1 cannot show it" in twice
    twice = _refused({"coupon_expiring": {"template_id": "T3", "fields": {"coupon_name": "thing1",
                                                                          "valid_until": "thing1"}}})
    assert "already carries coupon_name" in twice
    assert "template_id" in _refused({"order_unpaid": {**UNPAID, "template_id": ""}})
    assert "extra" in _refused({"order_unpaid": {**UNPAID, "colour": "red"}}).lower()
    assert "order_shipped" in _refused({"order_shipped": "T9"})


def test_every_message_has_a_valid_default_layout():
    assert set(subscription.DEFAULT_FIELDS) == set(subscription.MESSAGES)
    for message, fields in subscription.DEFAULT_FIELDS.items():
        assert subscription.layout_problems(message, fields) == {}, message
    literal = ShopSettings.model_fields["subscription_templates"].annotation.__args__[0].__args__
    assert set(literal) == set(subscription.MESSAGES)


def test_the_data_follows_the_layout():
    data = subscription.message_data("order_unpaid", UNPAID["fields"], {
        "order_id": "o123", "amount": 1999, "expires_at": "2026-11-29T10:00:00Z"})
    assert data == {"character_string2": {"value": "o123"}, "amount1": {"value": "19.99元"},
                    "time5": {"value": "2026年11月29日 18:00"}}
    # A value the layout leaves out is not sent; a time or money value in a thing keeps its form.
    data = subscription.message_data("order_paid", {"order_id": "character_string1", "amount": "thing4"}, {
        "order_id": "o1", "amount": 5, "note": "已付款"})
    assert data == {"character_string1": {"value": "o1"}, "thing4": {"value": "0.05元"}}
