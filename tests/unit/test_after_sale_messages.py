"""The after-sale subscription messages: sent only with the shopper's consent, once per
after-sale, with the return address for a return and the reason of a rejection."""

from __future__ import annotations

from layers.domain.shop_settings import ShopSettings
from tests.unit.test_reminder_service import _shopper, env  # noqa: F401 - the fixture

TEMPLATES = {"after_sale_approved": "T_OK", "after_sale_refunded": "T_REFUNDED", "after_sale_rejected": "T_NO"}
ADDRESS = {"name": "退货仓", "phone": "021-55550000", "detail": "张江路 1 号"}


def _with_templates(env):  # noqa: F811
    from tests.fakes.catalog import MemorySettingsRepository

    MemorySettingsRepository(env.store).save_settings(ShopSettings(subscription_templates=TEMPLATES), "t")


def _payload(user, **extra):
    return {"after_sale_id": "o1Aa", "order_id": "o1", "user_id": user.user_id, "kind": "return_refund",
            "amount": 1230, **extra}


def test_approved_carries_the_return_address_and_is_sent_once(env):  # noqa: F811
    _with_templates(env)
    user = _shopper(env, "a", ["T_OK", "T_OK"])
    env.service.on_after_sale_approved("after_sale.approved:o1Aa", _payload(user, return_address=ADDRESS))
    env.service.on_after_sale_approved("after_sale.approved:o1Aa", _payload(user, return_address=ADDRESS))
    assert len(env.mp.sent) == 1
    data = env.mp.sent[0]["data"]
    assert data["character_string1"] == {"value": "o1"}
    assert data["thing2"]["value"] == "售后申请已通过，请寄回商品"
    assert data["thing3"]["value"].startswith("退货仓 021-55550000")


def test_refunded_and_rejected(env):  # noqa: F811
    _with_templates(env)
    user = _shopper(env, "b", ["T_REFUNDED", "T_NO"])
    env.service.on_after_sale_refunded("after_sale.refunded:o1Aa", _payload(user))
    env.service.on_after_sale_rejected("after_sale.rejected:o1Ab", {**_payload(user), "after_sale_id": "o1Ab",
                                                                   "reason": "照片看不出破损"})
    refunded, rejected = env.mp.sent
    assert refunded["data"]["amount2"] == {"value": "12.30元"}
    assert rejected["data"]["thing2"] == {"value": "照片看不出破损"}


def test_without_consent_nothing_is_sent(env):  # noqa: F811
    _with_templates(env)
    user = _shopper(env, "c")
    env.service.on_after_sale_refunded("after_sale.refunded:o1Aa", _payload(user))
    assert env.mp.sent == []
