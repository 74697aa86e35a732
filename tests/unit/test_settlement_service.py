"""The settlement service over in-memory repositories and an in-memory WeChat transfer
API: one payout per distributor per batch, out_bill_no derived, a killed run resumed by
asking WeChat about the same out_bill_no, failures giving commissions back. The same
on DynamoDB Local and the sandbox: tests/integration/test_settlement.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from layers.domain import commission_entry as cm
from layers.domain import errors
from layers.domain import payout as domain
from layers.domain.payment_gateway import WeChatPayError, WeChatPayUnavailable
from layers.domain.shop_settings import ShopSettings
from layers.services.settlement import PayoutChanged, SettlementService
from tests.fakes.settlement import FakeTransfers, MemoryPayoutRepository, RecordingSender
from tests.unit.test_distribution_service import World


class NoPacing:
    def wait(self) -> None:
        pass


class Settle(World):
    def __init__(self):
        super().__init__()
        self.transfers = FakeTransfers()
        self.payouts = MemoryPayoutRepository(self.store)
        self.sender = RecordingSender()
        self.settings = SimpleNamespace(settlement_queue_url="q-settle", wechatpay_mchid="1900000001",
                                        wechat_appid="wx-test", wechatpay_notify_base_url="https://shop.example")
        self.settlement = SettlementService(
            payouts=self.payouts, commissions=self.commissions, distribution=self.svc, pay=self.transfers,
            send=self.sender, users=self.users, shop_settings=self.shop_settings, settings=self.settings,
            clock=self.clock, new_tx=self.store.tx, pacer=NoPacing())

    def settleable(self, distributors: int, orders_each: int = 2) -> dict[str, int]:
        expected = {}
        for _ in range(distributors):
            d = self.distributor()
            total = 0
            for _ in range(orders_each):
                order = self.paid_order(self.shopper(), d)
                self.svc.on_order_completed("e", {"order_id": order.order_id, "completed_at": self.now()})
                total += self.commissions.get(d, order.order_id).amount
            expected[d] = total
        self.clock.advance(8 * 24 * 3600)  # past the freeze; the run makes them SETTLEABLE
        return expected

    def payouts_of(self, distributor_id: str) -> list:
        return self.payouts.list_for_user(distributor_id, 100, None)[0]

    def run(self):
        return self.settlement.settle_commissions(inline=True)


@pytest.fixture
def s():
    return Settle()


def test_each_distributor_is_paid_once_per_batch(s):
    expected = s.settleable(3)
    summary = s.run()
    assert summary["made_settleable"] == 6 and summary["payouts"] == {"WAIT_USER_CONFIRM": 3}
    for d, amount in expected.items():
        [p] = s.payouts_of(d)
        assert p.payout_id == domain.payout_id_for(p.batch_id, d) and len(p.payout_id) <= 32
        assert (p.status, p.amount, p.commission_count) == ("WAIT_USER_CONFIRM", amount, 2)
        assert s.transfers.posts(p.payout_id) == 1
        assert s.settlement.payout_view(p)["confirm"]["package"] == f"pkg-{p.payout_id}"
    s.run()  # a second run the same day: nothing new
    for d in expected:
        [p] = s.payouts_of(d)
        assert s.transfers.posts(p.payout_id) == 1
        s.settlement.on_transfer_result(s.transfers.finish(p.payout_id))
        s.settlement.on_transfer_result(s.transfers.finish(p.payout_id))  # WeChat says it twice
        assert s.payouts.get(p.payout_id).status == "SUCCESS"
        stats = s.commissions.stats(d)
        assert (stats.settled, stats.settleable) == (expected[d], 0)
    assert s.payouts.get_batch(summary["batch_id"]).runs == 2


def test_the_job_fans_out_one_message_per_distributor(s):
    expected = s.settleable(2, orders_each=1)
    summary = s.settlement.settle_commissions()
    assert sorted(body["distributor_id"] for _, body in s.sender.sent) == sorted(expected)
    assert {url for url, _ in s.sender.sent} == {"q-settle"}
    for _, body in s.sender.sent:
        assert s.settlement.handle_message(body) == "WAIT_USER_CONFIRM"
        assert s.settlement.handle_message(body) == "WAIT_USER_CONFIRM"  # SQS delivers twice
    assert all(body["batch_id"] == summary["batch_id"] for _, body in s.sender.sent)
    assert len(s.transfers.calls) == 2


def test_a_run_killed_after_wechat_took_the_transfer_asks_before_sending_again(s):
    expected = s.settleable(3, orders_each=1)
    original = s.transfers.transfer

    class Killed(BaseException):
        """The Lambda timing out right after WeChat took the transfer."""

    def transfer_then_die(**kwargs):
        answer = original(**kwargs)
        if len(s.transfers.transfers) == 2:
            raise Killed()
        return answer

    s.transfers.transfer = transfer_then_die
    with pytest.raises(Killed):
        s.run()
    s.transfers.transfer = original
    s.run()
    for d, amount in expected.items():
        [p] = s.payouts_of(d)
        assert p.status == "WAIT_USER_CONFIRM" and p.amount == amount
        assert s.transfers.posts(p.payout_id) == 1


def test_wechat_unreachable_then_the_retry_queries_the_same_bill(s):
    [d] = s.settleable(1)
    s.transfers.unavailable = True
    with pytest.raises(WeChatPayUnavailable):
        s.run()
    [p] = s.payouts_of(d)
    assert p.status == "TRANSFERRING"
    s.transfers.unavailable = False
    assert s.settlement.handle_message({"batch_id": p.batch_id, "distributor_id": d}) == "WAIT_USER_CONFIRM"
    assert s.transfers.posts(p.payout_id) == 2  # the unanswered one, and the retry under the same number
    assert ("query_transfer", p.payout_id) in s.transfers.calls


def test_a_failed_transfer_gives_its_commissions_back_for_the_next_day(s):
    expected = s.settleable(1)
    [d] = expected
    s.run()
    [p] = s.payouts_of(d)
    s.settlement.on_transfer_result(s.transfers.finish(p.payout_id, succeed=False))
    assert s.payouts.get(p.payout_id).status == "FAIL"
    assert all(c.status == "SETTLEABLE" and c.settlement_id is None for c in s.svc.list_settleable(d))
    assert s.commissions.stats(d).settled == 0 and s.commissions.stats(d).settleable == expected[d]
    s.clock.advance(24 * 3600)
    s.run()
    payouts = sorted(s.payouts_of(d), key=lambda p: p.created_at)
    assert [p.status for p in payouts] == ["FAIL", "WAIT_USER_CONFIRM"]
    assert payouts[1].amount == expected[d] and payouts[1].payout_id != payouts[0].payout_id


def test_a_refused_transfer_fails_at_once(s):
    [d] = s.settleable(1)
    s.transfers.refuse = WeChatPayError(400, "NOT_ENOUGH", "balance")
    s.run()
    [p] = s.payouts_of(d)
    assert p.status == "FAIL" and p.fail_reason == "NOT_ENOUGH: balance"
    assert len(s.svc.list_settleable(d)) == 2


def test_adjustments_net_off_and_a_negative_net_carries_forward(s):
    [d] = s.settleable(1, orders_each=1)
    [c] = [c for c in s.store.scan(("commission", d))]
    s.run()
    [p] = s.payouts_of(d)
    s.settlement.on_transfer_result(s.transfers.finish(p.payout_id))
    order = s.orders.get(c.order_id)
    s.refund(order, "R1", order.paid)  # after payout: a negative adjustment
    assert [x.amount for x in s.svc.list_settleable(d)] == [-c.amount]
    s.clock.advance(24 * 3600)
    assert s.run()["payouts"] == {"NOTHING_TO_SETTLE": 1}
    assert [x.amount for x in s.svc.list_settleable(d)] == [-c.amount]  # carried, not dropped
    nxt = s.paid_order(s.shopper(), d, quantity=3)
    s.svc.on_order_completed("e", {"order_id": nxt.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert latest.amount == 1500 - c.amount and latest.commission_count == 2


def test_manual_mode_waits_for_an_operator(s):
    [d] = s.settleable(1)
    s.shop_settings.save_settings(ShopSettings(settlement_mode="manual"), s.now())
    assert s.run()["mode"] == "manual"
    [p] = s.payouts_of(d)
    assert p.status == "AWAITING_MANUAL" and s.transfers.calls == []
    assert p.payout_id in s.settlement.batch_csv(p.batch_id)
    [batch] = s.settlement.batches(10, None)[0]
    assert batch["total"] == p.amount
    assert s.settlement.mark_paid_manually(p.payout_id)["status"] == "PAID_MANUALLY"
    assert s.settlement.mark_paid_manually(p.payout_id)["status"] == "PAID_MANUALLY"
    assert s.commissions.stats(d).settled == p.amount
    with pytest.raises(errors.NotFound):
        s.settlement.mark_paid_manually("nope")


def test_a_stale_payout_is_read_again(s):
    """The notification lands while our transfer call is answered: neither overwrites the
    other's newer status, and the commissions are settled once."""
    [d] = s.settleable(1)
    s.run()
    [p] = s.payouts_of(d)
    stale = p
    s.settlement.on_transfer_result(s.transfers.finish(p.payout_id))
    s.settlement._apply_state(stale, {"state": "WAIT_USER_CONFIRM"})  # a late, older answer
    assert s.payouts.get(p.payout_id).status == "SUCCESS"
    s.settlement._apply_state(stale, {"state": "SUCCESS"})
    assert s.commissions.stats(d).settled == p.amount


def test_notifications_that_do_not_match_change_nothing(s):
    [d] = s.settleable(1)
    s.run()
    [p] = s.payouts_of(d)
    s.settlement.on_transfer_result({**s.transfers.finish(p.payout_id), "transfer_amount": p.amount + 1})
    s.settlement.on_transfer_result({**s.transfers.finish(p.payout_id), "mch_id": "other"})
    s.settlement.on_transfer_result({"out_bill_no": "nope", "state": "SUCCESS"})
    assert s.payouts.get(p.payout_id).status == "WAIT_USER_CONFIRM"


def test_claiming_stops_on_a_concurrent_change_and_resumes(s):
    [d] = s.settleable(1)
    s.svc.make_due_settleable(s.clock.now())
    [first, _] = s.svc.list_settleable(d)
    real = s.svc.list_settleable

    def list_then_race(distributor_id):
        items = real(distributor_id)
        change = cm.reverse(first, "R", 1, 0, s.now())  # a refund touches one of them meanwhile
        tx = s.store.tx()
        s.commissions.stage_change(tx, change.before, change.after, on_stale=RuntimeError)
        tx.commit()
        s.svc.list_settleable = real
        return items

    s.svc.list_settleable = list_then_race
    batch = domain.batch_id_for(s.clock.now())
    s.settlement._open_batch(s.clock.now())
    with pytest.raises(PayoutChanged):  # the message is retried
        s.settlement.handle_message({"batch_id": batch, "distributor_id": d})
    assert s.payouts.get(domain.payout_id_for(batch, d)) is None  # all or nothing
    assert s.settlement.handle_message({"batch_id": batch, "distributor_id": d}) == "WAIT_USER_CONFIRM"
    assert s.payouts.get(domain.payout_id_for(batch, d)).commission_count == 2
