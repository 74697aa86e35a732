"""The composition root builds every service, and every declared event consumer and job
resolves: a module that cannot be imported fails here, not silently at run time."""

from __future__ import annotations

import inspect

import pytest


@pytest.fixture
def wiring(monkeypatch):
    # Building services reads settings only: nothing here talks to the network.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for name, value in {"WECHATPAY_MERCHANT_PRIVATE_KEY": pem, "WECHATPAY_PUBLIC_KEY": public,
                        "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0000000000000000000000000001",
                        "WECHATPAY_MCHID": "1900000001", "WECHAT_APPID": "wx0000000000000001",
                        "WECHATPAY_APIV3_KEY": "0" * 32, "WECHATPAY_MERCHANT_SERIAL": "5157F09EFDC096DE15EBE81A47057A72"}.items():
        monkeypatch.setenv(name, value)
    from functions import wiring as module
    from layers.config import reset_settings_cache

    reset_settings_cache()
    module.reset()
    yield module
    module.reset()
    reset_settings_cache()


def test_every_event_consumer_is_a_bound_method_taking_event_id_and_payload(wiring):
    handlers = wiring.event_handlers()
    assert set(handlers) == {"order.paid", "order.completed", "order.refunded",
                             "bargain_instance.expiry_due", "assist_instance.expiry_due",
                             "order.shipped", "shipping.upload",
                             "group.expiry_due",
                             "top_up.paid",
                             "catalog.changed",
                             "after_sale.approved", "after_sale.refunded", "after_sale.rejected",
                             "coupon_grant.run", "share.created", "share.visited", "channel.visited",
                             # a campaign's orders and steps, counted in its review
                             "order.placed", "group.opened", "group.succeeded", "group.failed",
                             "bargain.started", "bargain.succeeded", "assist.started", "assist.rewarded"}
    for event_type, consumers in handlers.items():
        assert consumers, event_type
        for consumer in consumers:
            assert inspect.ismethod(consumer), consumer
            assert list(inspect.signature(consumer).parameters)[:2] == ["event_id", "payload"], consumer


def test_every_job_step_is_a_method_of_a_wired_service(wiring):
    jobs = wiring.jobs()
    assert set(jobs) == {"close-expired-orders", "relay-outbox", "settle-commissions", "send-reminders",
                         "reconcile", "expire-campaigns",
                         "retry-shipping-uploads", "check-trade-management",
                         "fetch-visitors", "recount-analytics",
                         "expire-groups",
                         "rebuild-listing",
                         "retag-customers",
                         "approve-after-sales", "close-unreturned-after-sales", "run-coupon-grants", "expire-pickups",
                         "backfill-order-counts", "backfill-customers"}  # one-off: not scheduled
    for name, steps in jobs.items():
        assert steps, name
        for build, method, _ in steps:
            assert inspect.ismethod(getattr(build(), method)), (name, method)


def test_services_are_built_once_per_container(wiring):
    assert wiring.orders() is wiring.orders()
    assert wiring.refunds().orders is wiring.orders().orders
    wiring.reset()
    assert wiring.orders() is not None
