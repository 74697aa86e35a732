"""One suite, two stores: the shipping uploads (and the order's upload status, and the
trade-management flag) behave alike in memory and on DynamoDB Local."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import order as order_rules
from layers.domain import shipping as rules
from layers.domain.shipping import UploadStatus, shipping_info
from tests.contract.test_order_repository import Exists, Stale, an_order, create

INFO = shipping_info("express", "ZTO", "ZTO-1")
NOW = datetime(2999, 1, 1, 2, 0, tzinfo=UTC)  # far ahead: never due for the shared table's sweeps


class Backend:
    def __init__(self, orders, uploads, trade, new_tx):
        self.orders, self.uploads, self.trade, self.new_tx = orders, uploads, trade, new_tx


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.orders import MemoryOrderRepository
        from tests.fakes.shipping import MemoryShippingUploads, MemoryTradeManagementCache

        store = MemoryStore()
        return Backend(MemoryOrderRepository(store), MemoryShippingUploads(store),
                       MemoryTradeManagementCache(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.orders import DynamoOrderRepository
    from layers.storage.shipping import DynamoShippingUploads, DynamoTradeManagementCache
    from layers.storage.tx import Tx

    return Backend(DynamoOrderRepository(), DynamoShippingUploads(), DynamoTradeManagementCache(), Tx)


def shipped(backend):
    """A shipped order and its new upload, written in one transaction as ShippingService does."""
    order = an_order(status=order_rules.PAID, transaction_id="4200", paid_amount=3000)
    create(backend, order)
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    change = order_rules.ship(order, now, "2999-02-01T00:00:00Z", INFO.as_dict())
    upload = rules.new_upload(order, INFO, "mch1", now)
    tx = backend.new_tx()
    backend.orders.stage_change(tx, change.before, change.after, on_stale=Stale)
    backend.uploads.stage_create(tx, upload, on_exists=Exists)
    tx.commit()
    return change.after, upload


def write(backend, before, after, status_changed=False):
    tx = backend.new_tx()
    backend.uploads.stage_change(tx, before, after, on_stale=Stale)
    if status_changed:
        backend.orders.stage_upload_status(tx, before.order_id, after.status)
    tx.commit()


class TestShippingUploads:
    def test_created_with_its_order_and_read_back(self, backend):
        order, upload = shipped(backend)
        assert backend.uploads.get(order.order_id) == upload
        stored = backend.orders.get(order.order_id, consistent=True)
        assert stored.shipping == INFO.as_dict() and stored.shipping_upload_status == "PENDING"
        with pytest.raises(Exists):
            tx = backend.new_tx()
            backend.uploads.stage_create(tx, upload, on_exists=Exists)
            tx.commit()

    def test_a_change_is_conditioned_on_the_version_it_was_decided_from(self, backend):
        order, upload = shipped(backend)
        claimed = rules.claim(upload, NOW)
        write(backend, upload, claimed)
        with pytest.raises(Stale):
            write(backend, upload, rules.claim(upload, NOW))  # a second caller, from the same read
        done = rules.uploaded(claimed, "2999-01-01T02:00:01Z")
        write(backend, claimed, done, status_changed=True)
        assert backend.uploads.get(order.order_id) == done
        stored = backend.orders.get(order.order_id, consistent=True)
        assert stored.shipping_upload_status == "UPLOADED" and stored.version == order.version  # no transition

    def test_pending_uploads_are_due_when_their_time_comes_and_leave_the_queue(self, backend):
        order, upload = shipped(backend)
        later = NOW + timedelta(days=1)
        until = later.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert order.order_id in [u.order_id for u in backend.uploads.due(until, limit=1000)]
        refused = rules.refused(upload, 10060001, "支付单不存在", later + timedelta(days=1))
        write(backend, upload, refused)
        assert order.order_id not in [u.order_id for u in backend.uploads.due(until, limit=1000)]
        failed = rules.refused(refused, 10060005, "物流类型有误", later)
        write(backend, refused, failed, status_changed=True)
        assert failed.status == UploadStatus.FAILED and failed.error_code == 10060005
        far = (NOW + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert order.order_id not in [u.order_id for u in backend.uploads.due(far, limit=1000)]
        assert backend.orders.get(order.order_id, consistent=True).shipping_upload_status == "FAILED"

    def test_the_one_change_is_stored_and_a_second_refused(self, backend):
        order, upload = shipped(backend)
        corrected = rules.change(upload, shipping_info("express", "SF", "SF-1"), "2999-01-01T02:00:00Z")
        write(backend, upload, corrected)  # nothing accepted yet: a correction, not the change
        assert backend.uploads.get(order.order_id) == corrected and corrected.revision == 0
        accepted = rules.uploaded(corrected, "2999-01-01T02:30:00Z")
        write(backend, corrected, accepted, status_changed=True)
        changed = rules.change(accepted, shipping_info("express", "SF", "SF-2"), "2999-01-01T03:00:00Z")
        write(backend, accepted, changed, status_changed=True)
        assert backend.uploads.get(order.order_id) == replace(changed)
        assert changed.revision == 1 and changed.accepted == 1
        second = rules.uploaded(changed, "2999-01-01T03:30:00Z")
        write(backend, changed, second, status_changed=True)
        assert backend.uploads.get(order.order_id).accepted == 2
        with pytest.raises(Exception, match="one change"):
            rules.change(second, INFO, "2999-01-01T04:00:00Z")

    def test_trade_management_is_kept(self, backend):
        backend.trade.put(False, "2999-01-01T00:00:00Z")
        assert backend.trade.get() == (False, "2999-01-01T00:00:00Z")
        backend.trade.put(True, "2999-01-02T00:00:00Z")
        assert backend.trade.get() == (True, "2999-01-02T00:00:00Z")
