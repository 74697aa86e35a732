"""The settlement service over in-memory repositories and an in-memory WeChat transfer
API: one payout per distributor per batch, out_bill_no derived, a killed run resumed by
asking WeChat about the same out_bill_no, failures giving commissions back. The same
on DynamoDB Local and the sandbox: tests/integration/test_settlement.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from layers.domain import commission_debt as debts
from layers.domain import commission_entry as cm
from layers.domain import errors
from layers.domain import payout as domain
from layers.domain.payment_gateway import ResponseNotVerified, WeChatPayError, WeChatPayUnavailable
from layers.domain.shop_settings import ShopSettings
from layers.services.settlement import PayoutChanged, SettlementService
from tests.fakes.settlement import FakeTransfers, MemoryPayoutRepository, RecordingSender
from tests.fakes.transfer_authorizations import MemoryTransferAuthorizations
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
            clock=self.clock, new_tx=self.store.tx, pacer=NoPacing(),
            authorizations=MemoryTransferAuthorizations(self.store))

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


def _claim_all(s, d) -> list[dict]:
    """The distributor asks for every READY payout in the mini-program."""
    return [s.settlement.claim(d, v["id"]) for v in s.settlement.my_payouts(d, 100, None)[0]
            if v["status"] == "READY"]


def _bill(s, view) -> str:
    payout_id, index = domain.parse_part_id(view["id"])
    return domain.out_bill_no(payout_id, s.payouts.get(payout_id).part(index))


def test_each_distributor_is_paid_once_per_batch(s):
    expected = s.settleable(3)
    summary = s.run()
    assert summary["made_settleable"] == 6 and summary["payouts"] == {"PAYING": 3}
    assert s.transfers.calls == []  # user-confirmation mode: a transfer waits for its claim
    for d, amount in expected.items():
        [p] = s.payouts_of(d)
        assert p.payout_id == domain.payout_id_for(p.batch_id, d) and len(p.payout_id) <= 32
        assert (p.status, p.amount, p.commission_count) == ("PAYING", amount, 2)
        [view] = _claim_all(s, d)
        assert view["status"] == "WAIT_USER_CONFIRM" and view["amount"] == amount
        bill = _bill(s, view)
        assert view["confirm"] == {"mch_id": "1900000001", "app_id": "wx-test", "package": f"pkg-{bill}"}
        assert s.settlement.claim(d, view["id"]) == view  # asked again: the same transfer
        assert s.transfers.posts(bill) == 1
    s.run()  # a second run the same day: nothing new
    for d in expected:
        [p] = s.payouts_of(d)
        bill = domain.out_bill_no(p.payout_id, p.part(0))
        assert s.transfers.posts(bill) == 1
        s.settlement.on_transfer_result(s.transfers.finish(bill))
        s.settlement.on_transfer_result(s.transfers.finish(bill))  # WeChat says it twice
        assert s.payouts.get(p.payout_id).status == "SUCCESS"
        stats = s.commissions.stats(d)
        assert (stats.settled, stats.settleable) == (expected[d], 0)
    assert s.payouts.get_batch(summary["batch_id"]).runs == 2


def test_a_large_commission_pays_as_parts_and_a_tiny_one_waits(s):
    big, tiny = s.distributor(), s.distributor()
    order = s.paid_order(s.shopper(), big, price=2_000_000)
    small = s.paid_order(s.shopper(), tiny, price=100)  # 5 fen of commission
    for o in (order, small):
        s.svc.on_order_completed("e", {"order_id": o.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    assert s.run()["payouts"] == {"PAYING": 1, "NOTHING_TO_SETTLE": 1}
    [p] = s.payouts_of(big)
    assert p.amount == 100_000 and [q.amount for q in p.parts] == [20_000] * 5
    views = _claim_all(s, big)
    assert len(views) == 5 and all(v["status"] == "WAIT_USER_CONFIRM" for v in views)
    assert all(b["transfer_amount"] <= 20_000 for b in s.transfers.transfers.values())
    for v in views[:4]:
        s.settlement.on_transfer_result(s.transfers.finish(_bill(s, v)))
    assert s.payouts.get(p.payout_id).status == "PAYING"
    assert s.commissions.stats(big).settled == 0  # settled when the last part is paid
    s.settlement.on_transfer_result(s.transfers.finish(_bill(s, views[4])))
    assert s.payouts.get(p.payout_id).status == "SUCCESS"
    assert s.commissions.stats(big).settled == 100_000 == s.transfers.paid_total()
    assert s.payouts_of(tiny) == [] and [c.amount for c in s.svc.list_settleable(tiny)] == [5]


def test_the_job_fans_out_one_message_per_distributor(s):
    expected = s.settleable(2, orders_each=1)
    summary = s.settlement.settle_commissions()
    assert sorted(body["distributor_id"] for _, body in s.sender.sent) == sorted(expected)
    assert {url for url, _ in s.sender.sent} == {"q-settle"}
    for _, body in s.sender.sent:
        assert s.settlement.handle_message(body) == "PAYING"
        assert s.settlement.handle_message(body) == "PAYING"  # SQS delivers twice
    assert all(body["batch_id"] == summary["batch_id"] for _, body in s.sender.sent)
    assert all(len(s.payouts_of(d)) == 1 for d in expected)


@pytest.mark.parametrize("error", [
    ResponseNotVerified(200, "RESPONSE_NOT_VERIFIED", "bad signature"),
    WeChatPayUnavailable(0, "NETWORK", "timeout"),
])
def test_an_answer_lost_after_wechat_took_the_transfer_never_pays_twice(s, error):
    [d] = s.settleable(1)
    s.run()
    [ready] = s.settlement.my_payouts(d, 10, None)[0]
    s.transfers.fault("transfer", error, after=True)  # WeChat made it; the answer is lost
    with pytest.raises(errors.UpstreamUnavailable):
        s.settlement.claim(d, ready["id"])
    [p] = s.payouts_of(d)
    assert p.part(0).status == "TRANSFERRING"
    s.clock.advance(24 * 3600)
    s.run()  # the next day's batch: nothing new to settle; the follow-up asks WeChat
    assert len(s.payouts_of(d)) == 1 and s.payouts_of(d)[0].part(0).status == "WAIT_USER_CONFIRM"
    view = s.settlement.claim(d, ready["id"])
    bill = _bill(s, view)
    assert s.transfers.posts(bill) == 1 and list(s.transfers.transfers) == [bill]
    assert all(c.status == "SETTLING" for c in s.store.scan(("commission", d)))


def test_wechat_unreachable_then_the_retry_queries_the_same_bill(s):
    [d] = s.settleable(1)
    s.run()
    [ready] = s.settlement.my_payouts(d, 10, None)[0]
    s.transfers.unavailable = True
    with pytest.raises(errors.UpstreamUnavailable):
        s.settlement.claim(d, ready["id"])
    s.transfers.unavailable = False
    view = s.settlement.claim(d, ready["id"])
    bill = _bill(s, view)
    assert view["status"] == "WAIT_USER_CONFIRM"
    assert s.transfers.posts(bill) == 2  # the unanswered one, and the retry under the same number
    assert ("query_transfer", bill) in s.transfers.calls


@pytest.mark.parametrize("state", ["CANCELLED", "FAIL"])
def test_a_transfer_not_received_is_ready_again_under_a_new_number(s, state):
    expected = s.settleable(1)
    [d] = expected
    s.run()
    [first] = _claim_all(s, d)
    old = _bill(s, first)
    s.settlement.on_transfer_result(s.transfers.finish(old, state=state))  # 24 h unconfirmed
    [again] = s.settlement.my_payouts(d, 10, None)[0]
    assert (again["id"], again["status"], again["amount"]) == (first["id"], "READY", expected[d])
    assert all(c.status == "SETTLING" for c in s.store.scan(("commission", d)))  # still owed, not re-settled
    s.clock.advance(24 * 3600)
    s.run()
    assert len(s.payouts_of(d)) == 1  # no second payout for the same commissions
    second = s.settlement.claim(d, first["id"])
    new = _bill(s, second)
    assert new != old and second["status"] == "WAIT_USER_CONFIRM"
    s.settlement.on_transfer_result(s.transfers.finish(new))
    assert s.commissions.stats(d).settled == expected[d] == s.transfers.paid_total()


def test_a_success_for_an_attempt_recorded_as_ended_is_kept_and_alarmed(s):
    [d] = s.settleable(1)
    s.run()
    [first] = _claim_all(s, d)
    old = _bill(s, first)
    s.settlement.on_transfer_result({**s.transfers.transfers[old], "state": "CANCELLED"})
    s.settlement.on_transfer_result(s.transfers.finish(old))  # WeChat: it was paid after all
    [p] = s.payouts_of(d)
    assert p.status == "SUCCESS" and p.part(0).attempt == 1
    assert s.settlement.claim(d, first["id"])["status"] == "SUCCESS"  # paid: nothing sent again
    assert list(s.transfers.transfers) == [old]


def test_a_refused_transfer_leaves_the_money_owed(s):
    [d] = s.settleable(1)
    s.run()
    [ready] = s.settlement.my_payouts(d, 10, None)[0]
    s.transfers.refuse = WeChatPayError(400, "INVALID_REQUEST", "openid")
    with pytest.raises(errors.NotAcceptable):
        s.settlement.claim(d, ready["id"])
    [p] = s.payouts_of(d)
    assert (p.status, p.part(0).status, p.part(0).attempt) == ("PAYING", "READY", 0)
    assert "INVALID_REQUEST" in p.part(0).fail_reason
    assert s.settlement.claim(d, ready["id"])["status"] == "WAIT_USER_CONFIRM"


def test_not_enough_balance_is_retried_with_the_same_number(s):
    [d] = s.settleable(1)
    s.run()
    [ready] = s.settlement.my_payouts(d, 10, None)[0]
    s.transfers.fault("transfer", WeChatPayError(403, "NOT_ENOUGH", "balance"))
    with pytest.raises(errors.UpstreamUnavailable):
        s.settlement.claim(d, ready["id"])
    view = s.settlement.claim(d, ready["id"])
    assert view["status"] == "WAIT_USER_CONFIRM"
    assert {c[1] for c in s.transfers.calls if c[0] == "transfer"} == {_bill(s, view)}


def test_only_the_distributor_claims_their_payout(s):
    [d] = s.settleable(1)
    s.run()
    [ready] = s.settlement.my_payouts(d, 10, None)[0]
    for who, pid in ((s.distributor(), ready["id"]), (d, "nope"), (d, ready["id"][:-2] + "zz")):
        with pytest.raises(errors.NotFound):
            s.settlement.claim(who, pid)
    assert s.transfers.calls == []


def _paid_out(s, d, order) -> None:
    """Settle the distributor's commission of `order`: frozen, settled, transferred."""
    s.svc.on_order_completed("e", {"order_id": order.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    for view in _claim_all(s, d):
        s.settlement.on_transfer_result(s.transfers.finish(_bill(s, view)))
    assert s.commissions.get(d, order.order_id).status == "SETTLED"


def _debt_matches_entries(s, d) -> int:
    entries = s.commissions.debt_entries(d)
    stats = s.commissions.stats(d)
    assert stats.debt == debts.balance(entries) >= 0
    assert stats.deducted == sum(e.amount for e in entries if e.kind == debts.DEDUCTION)
    return stats.debt


def test_a_legacy_adjustment_still_nets_off_and_a_negative_net_carries_forward(s):
    """Negative adjustments stored before commission debts existed are netted off as they
    always were: carried forward while the net is not positive, never dropped."""
    d = s.distributor()
    order = s.paid_order(s.shopper(), d)
    _paid_out(s, d, order)
    adj = cm.Commission(distributor_id=d, commission_id=cm.adjustment_id("R0"), order_id=order.order_id,
                        kind=cm.ADJUSTMENT, status=cm.SETTLEABLE, amount=-500, created_at=s.now(),
                        updated_at=s.now(), refund_id="R0", settleable_at=s.now())
    tx = s.store.tx()
    s.commissions.stage_create(tx, adj, on_exists=RuntimeError)
    s.commissions.stage_stats(tx, d, {"settleable": -500, "reversed": 500})
    tx.commit()
    s.clock.advance(24 * 3600)
    assert s.run()["payouts"] == {"NOTHING_TO_SETTLE": 1}
    assert [x.amount for x in s.svc.list_settleable(d)] == [-500]  # carried, not dropped
    nxt = s.paid_order(s.shopper(), d, quantity=3)
    s.svc.on_order_completed("e", {"order_id": nxt.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert (latest.amount, latest.deducted, latest.commission_count) == (1000, 0, 2)


def test_a_refund_after_payout_is_deducted_first_from_the_next_payout(s):
    d = s.distributor()
    first = s.paid_order(s.shopper(), d)  # earns 500
    _paid_out(s, d, first)
    s.refund(first, "R1", first.paid)  # paid out: it cannot come back, it is owed
    s.refund(first, "R1", first.paid)  # the same event again: owed once
    assert _debt_matches_entries(s, d) == 500
    assert s.svc.list_settleable(d) == []  # nothing of it is netted off as a commission
    s.clock.advance(24 * 3600)
    assert s.run()["payouts"] == {}  # nothing to settle, nothing to deduct from: still owed
    assert _debt_matches_entries(s, d) == 500
    nxt = s.paid_order(s.shopper(), d, quantity=3)  # earns 1500
    s.svc.on_order_completed("e", {"order_id": nxt.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert (latest.amount, latest.deducted, latest.gross) == (1000, 500, 1500)
    assert [q.amount for q in latest.parts] == [1000]
    [view] = _claim_all(s, d)
    [listed] = [v for v in s.settlement.my_payouts(d, 10, None)[0] if v["id"] == view["id"]]
    assert (listed["amount"], listed["deducted"]) == (1000, 500)
    s.settlement.on_transfer_result(s.transfers.finish(_bill(s, view)))
    assert _debt_matches_entries(s, d) == 0
    figures = s.svc.dashboard(d)["commissions"]
    assert figures == {"pending": 0, "settleable": 0, "settled": 2000, "reversed": 500, "debt": 0,
                       "deducted": 500}
    assert s.transfers.paid_total() == 500 + 1000 == figures["settled"] - figures["deducted"]
    [entry] = [e for e in s.commissions.debt_entries(d) if e.kind == debts.DEDUCTION]
    assert (entry.amount, entry.payout_id) == (500, latest.payout_id)
    admin = s.settlement.payout_view(s.payouts.get(latest.payout_id), admin=True)
    assert (admin["amount"], admin["gross"], admin["deducted"], admin["status"]) == (1000, 1500, 500, "SUCCESS")
    [batch] = [b for b in s.settlement.batches(10, None)[0] if b["id"] == latest.batch_id]
    assert (batch["total"], batch["deducted"]) == (1000, 500)
    assert f"{latest.payout_id},{d},openid-" in s.settlement.batch_csv(latest.batch_id)
    assert s.settlement.batch_csv(latest.batch_id).splitlines()[1].endswith(",1500,500")


def test_a_debt_larger_than_the_payout_takes_it_whole_and_sends_nothing(s):
    d = s.distributor()
    big = s.paid_order(s.shopper(), d, quantity=3)  # earns 1500
    _paid_out(s, d, big)
    s.refund(big, "R1", big.paid)
    assert _debt_matches_entries(s, d) == 1500
    small = s.paid_order(s.shopper(), d)  # earns 500
    s.svc.on_order_completed("e", {"order_id": small.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    calls = len(s.transfers.calls)
    assert s.run()["payouts"] == {"DEDUCTED": 1}
    assert len(s.transfers.calls) == calls  # a payout of 0 sends nothing to WeChat
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert (latest.status, latest.amount, latest.deducted, latest.parts) == ("DEDUCTED", 0, 500, ())
    assert s.commissions.get(d, small.order_id).status == "SETTLED"
    assert _debt_matches_entries(s, d) == 1000  # what it did not cover waits for the next one
    assert s.settlement.my_payouts(d, 10, None)[0][0] == {
        "id": latest.payout_id, "amount": 0, "status": "DEDUCTED", "created_at": latest.created_at,
        "updated_at": latest.updated_at, "batch_id": latest.batch_id, "deducted": 500}
    third = s.paid_order(s.shopper(), d, quantity=3)  # earns 1500
    s.svc.on_order_completed("e", {"order_id": third.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert (latest.status, latest.amount, latest.deducted) == ("PAYING", 500, 1000)
    assert _debt_matches_entries(s, d) == 0


def test_a_debt_leaving_less_than_the_smallest_transfer_waits_untouched(s):
    d = s.distributor()
    owed = s.paid_order(s.shopper(), d)  # earns 500
    _paid_out(s, d, owed)
    s.refund(owed, "R1", 9_900, 9_900)  # takes back 495
    assert _debt_matches_entries(s, d) == 495
    nxt = s.paid_order(s.shopper(), d)  # earns 500: 5 fen would be left, WeChat takes 10 at least
    s.svc.on_order_completed("e", {"order_id": nxt.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    assert s.run()["payouts"] == {"NOTHING_TO_SETTLE": 1}
    assert _debt_matches_entries(s, d) == 495 and s.commissions.get(d, nxt.order_id).status == "SETTLEABLE"


def test_a_refund_while_the_payout_is_in_flight_is_owed_too(s):
    """The transfer may have left (a payout is never failed for good): what the refund
    takes back is owed, and the payout still pays what it was claimed for."""
    d = s.distributor()
    order = s.paid_order(s.shopper(), d, quantity=2)  # earns 1000
    s.svc.on_order_completed("e", {"order_id": order.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    [view] = _claim_all(s, d)
    assert s.commissions.get(d, order.order_id).status == "SETTLING"
    s.refund(order, "R1", 10_000, 10_000)
    assert _debt_matches_entries(s, d) == 500
    s.settlement.on_transfer_result(s.transfers.finish(_bill(s, view)))
    assert s.transfers.paid_total() == 1000
    assert s.commissions.stats(d).settled == 1000


def test_manual_mode_deducts_the_debt_before_the_operator_pays(s):
    s.shop_settings.save_settings(ShopSettings(settlement_mode="manual"), s.now())
    d = s.distributor()
    first = s.paid_order(s.shopper(), d)
    first_done = s.paid_order(s.shopper(), d, quantity=2)
    for o in (first, first_done):
        s.svc.on_order_completed("e", {"order_id": o.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    [p] = s.payouts_of(d)
    s.settlement.mark_paid_manually(p.payout_id)
    s.refund(first, "R1", first.paid)  # 500 owed
    s.clock.advance(24 * 3600)
    nxt = s.paid_order(s.shopper(), d, quantity=2)  # earns 1000
    s.svc.on_order_completed("e", {"order_id": nxt.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert (latest.status, latest.amount, latest.deducted) == ("AWAITING_MANUAL", 500, 500)
    assert s.settlement.mark_paid_manually(latest.payout_id)["amount"] == 500
    assert _debt_matches_entries(s, d) == 0


def test_a_deduction_raced_by_another_is_read_again_and_never_below_zero(s):
    """Another deduction lands between our read of the debt and our write: the condition on
    the debt fails, and the claim decides again from what is owed now."""
    d = s.distributor()
    owed = s.paid_order(s.shopper(), d)
    _paid_out(s, d, owed)
    s.refund(owed, "R1", owed.paid)  # 500 owed
    nxt = s.paid_order(s.shopper(), d, quantity=3)
    s.svc.on_order_completed("e", {"order_id": nxt.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    real = s.settlement._debt
    raced = []

    def debt_then_race(distributor_id):
        seen = real(distributor_id)
        if not raced:
            raced.append(seen)
            tx = s.store.tx()
            s.commissions.stage_deduction(tx, debts.deduction(d, "Pother", 300, s.now()), on_short=RuntimeError)
            tx.commit()
        return seen

    s.settlement._debt = debt_then_race
    s.run()
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert raced == [500] and (latest.amount, latest.deducted) == (1300, 200)
    assert _debt_matches_entries(s, d) == 0


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
    [view] = _claim_all(s, d)
    [stale] = s.payouts_of(d)
    s.settlement.on_transfer_result(s.transfers.finish(_bill(s, view)))
    s.settlement._apply_part(stale, 0, 0, {"state": "WAIT_USER_CONFIRM"})  # a late, older answer
    assert s.payouts.get(stale.payout_id).status == "SUCCESS"
    s.settlement._apply_part(stale, 0, 0, {"state": "SUCCESS"})
    assert s.commissions.stats(d).settled == stale.amount


def test_notifications_that_do_not_match_change_nothing(s):
    [d] = s.settleable(1)
    s.run()
    [view] = _claim_all(s, d)
    bill, amount = _bill(s, view), view["amount"]
    s.settlement.on_transfer_result({**s.transfers.finish(bill), "transfer_amount": amount + 1})
    s.settlement.on_transfer_result({**s.transfers.finish(bill), "mch_id": "other"})
    s.settlement.on_transfer_result({"out_bill_no": "nope", "state": "SUCCESS"})
    assert s.payouts_of(d)[0].part(0).status == "WAIT_USER_CONFIRM"


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
    assert s.settlement.handle_message({"batch_id": batch, "distributor_id": d}) == "PAYING"
    assert s.payouts.get(domain.payout_id_for(batch, d)).commission_count == 2


def test_a_granted_authorization_pays_without_a_claim_and_a_revoked_one_asks_again(s):
    s.shop_settings.save_settings(ShopSettings(transfer_authorization=True), s.now())
    [d] = s.settleable(1)
    s.run()
    [first] = _claim_all(s, d)  # the first transfer asks for the authorization too
    [(no, auth)] = s.transfers.authorizations.items()
    assert auth["state"] == "WAIT_USER_CONFIRM" and first["confirm"]["package"]
    s.settlement.on_transfer_result(s.transfers.finish(_bill(s, first)))  # confirmed: granted
    assert s.commissions.stats(d).settled > 0

    more = s.paid_order(s.shopper(), d, quantity=2)
    s.svc.on_order_completed("e", {"order_id": more.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()  # settled and sent at once: nobody claims
    latest = max(s.payouts_of(d), key=lambda p: p.created_at)
    bill = domain.out_bill_no(latest.payout_id, latest.part(0))
    assert ("authorized_transfer", bill) in s.transfers.calls and s.transfers.posts(bill) == 0
    assert latest.part(0).status == "WAIT_USER_CONFIRM" and latest.part(0).package_info is None
    s.settlement.on_transfer_result(s.transfers.finish(bill))
    assert s.payouts.get(latest.payout_id).status == "SUCCESS"

    s.transfers.authorizations[no]["state"] = "CLOSED"  # the distributor revoked it
    again = s.paid_order(s.shopper(), d)
    s.svc.on_order_completed("e", {"order_id": again.order_id, "completed_at": s.now()})
    s.clock.advance(8 * 24 * 3600)
    s.run()
    newest = max(s.payouts_of(d), key=lambda p: p.created_at)
    assert newest.part(0).status == "READY"  # waits for a claim again
    [view] = [v for v in s.settlement.my_payouts(d, 100, None)[0] if v["status"] == "READY"]
    claimed = s.settlement.claim(d, view["id"])
    assert claimed["confirm"]["package"]
    assert len(s.transfers.authorizations) == 2  # asked again, under a new authorization number
