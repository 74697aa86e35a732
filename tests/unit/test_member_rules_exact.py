"""The members' pure rules to the fen and to the word: an owner's adjustment (its bound is
the principal PLUS the bonus), ledger entries as shown, points, levels, top-ups (their
payment window, prepay id, close and abnormal refund). Each assertion kills a mutant of
layers/domain/members.py (docs/mutation.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import errors
from layers.domain import members as rules
from layers.domain.members import BALANCE, POINTS, Book, Movement

NOW = "2026-12-05T08:00:00Z"


def adjust(book, which, amount, reason="补偿", adjust_id="a-1_B", by="owner"):
    return rules.adjustment(book, which, amount, adjust_id, reason, by, NOW)


# -- an owner's adjustment ---------------------------------------------------------------------

def test_a_balance_credit_is_bonus_the_shop_gives():
    assert adjust(Book("u1", principal=100, bonus=5), BALANCE, 300, reason="  补偿运费 ") == Movement(
        "u1", BALANCE, "admin#a-1_B", "admin_adjust", NOW, bonus=300, note="owner: 补偿运费")


def test_a_points_credit_and_debit_move_the_available_points():
    assert adjust(Book("u1", available=10), POINTS, 5) == Movement(
        "u1", POINTS, "admin#a-1_B", "admin_adjust", NOW, available=5, note="owner: 补偿")
    assert adjust(Book("u1", available=10), POINTS, -10).available == -10


def test_a_debit_takes_the_bonus_first_then_the_principal():
    assert adjust(Book("u1", principal=1000, bonus=300), BALANCE, -500) == Movement(
        "u1", BALANCE, "admin#a-1_B", "admin_adjust", NOW, principal=-200, bonus=-300, note="owner: 补偿")
    assert adjust(Book("u1", principal=1000, bonus=300), BALANCE, -200) == Movement(
        "u1", BALANCE, "admin#a-1_B", "admin_adjust", NOW, principal=0, bonus=-200, note="owner: 补偿")


def test_a_debit_may_take_the_whole_balance_and_not_one_fen_more():
    book = Book("u1", principal=1000, bonus=300)
    whole = adjust(book, BALANCE, -1300)
    assert (whole.principal, whole.bonus) == (-1000, -300)
    with pytest.raises(rules.InsufficientBalance) as short:
        adjust(book, BALANCE, -1301)
    assert short.value.message == "余额不足:当前余额 ¥13.00,不能减少 ¥13.01"
    # The bound is principal + bonus: 1000 - 300 = 700 would refuse a debit of 701.
    assert adjust(book, BALANCE, -701).principal == -401


def test_points_below_zero_are_refused_in_chinese():
    assert adjust(Book("u1", available=3), POINTS, -3).available == -3
    with pytest.raises(rules.InsufficientPoints) as short:
        adjust(Book("u1", available=3), POINTS, -4)
    assert short.value.message == "积分不足:可用积分 3,不能减少 4"


def test_an_unknown_book_is_refused():
    with pytest.raises(errors.InvalidRequest) as bad:
        adjust(Book("u1"), "coupons", 5)
    assert bad.value.message == "book: balance or points"


@pytest.mark.parametrize("which,amount,message", [
    (BALANCE, 0, "调整金额须不为零,且不超过 ¥100000.00"),
    (BALANCE, 100_000_01, "调整金额须不为零,且不超过 ¥100000.00"),
    (BALANCE, -100_000_01, "调整金额须不为零,且不超过 ¥100000.00"),
    (BALANCE, 1.5, "调整金额须不为零,且不超过 ¥100000.00"),
    (POINTS, 0, "调整积分须为非零整数,且不超过 10000000"),
    (POINTS, "5", "调整积分须为非零整数,且不超过 10000000"),
])
def test_an_amount_must_be_a_nonzero_integer_within_the_cap(which, amount, message):
    with pytest.raises(errors.InvalidRequest) as bad:
        adjust(Book("u1", principal=10**9, available=10**9), which, amount)
    assert bad.value.message == message


def test_the_cap_itself_and_one_fen_are_allowed():
    assert adjust(Book("u1"), BALANCE, 100_000_00).bonus == 100_000_00
    assert adjust(Book("u1", principal=100_000_00), BALANCE, -100_000_00).principal == -100_000_00
    assert adjust(Book("u1"), BALANCE, 1).bonus == 1
    assert adjust(Book("u1", bonus=1), BALANCE, -1).bonus == -1


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 101])
def test_a_reason_is_required_and_short(reason):
    with pytest.raises(errors.InvalidRequest) as bad:
        adjust(Book("u1"), BALANCE, 5, reason=reason)
    assert bad.value.message == "请填写调整原因(不超过 100 字)"


def test_a_reason_of_exactly_the_limit_is_kept():
    assert adjust(Book("u1"), BALANCE, 5, reason="因" * 100).note == "owner: " + "因" * 100


@pytest.mark.parametrize("adjust_id", ["", "a" * 65, "a#b", "a b", "a.b"])
def test_the_form_id_is_short_letters_digits_dash_underscore(adjust_id):
    with pytest.raises(errors.InvalidRequest) as bad:
        adjust(Book("u1"), BALANCE, 5, adjust_id=adjust_id)
    assert bad.value.message == "表单已失效,请刷新页面重试"


@pytest.mark.parametrize("adjust_id", ["a" * 64, "-", "_", "Ab9-_z"])
def test_a_well_formed_form_id_makes_the_cause(adjust_id):
    assert adjust(Book("u1"), BALANCE, 5, adjust_id=adjust_id).cause == f"admin#{adjust_id}"


# -- ledger entries as shown -------------------------------------------------------------------

def test_a_balance_entry_shows_its_parts_and_its_links():
    m = Movement("u1", BALANCE, "order#o1#pay", "pay", NOW, principal=-70, bonus=-30, order_id="o1",
                 top_up_id="t1", note="owner: x")
    assert rules.entry_view(m) == {"id": "order#o1#pay", "amount": -100, "kind": "pay", "created_at": NOW,
                                   "principal": -70, "bonus": -30, "order_id": "o1", "top_up_id": "t1",
                                   "note": "owner: x"}


def test_a_points_entry_shows_available_and_frozen_only():
    m = Movement("u1", POINTS, "order#o1#earn", "earn", NOW, available=5, frozen=7)
    assert rules.entry_view(m) == {"id": "order#o1#earn", "amount": 12, "kind": "earn", "created_at": NOW,
                                   "available": 5, "frozen": 7}


# -- balance payments and their refunds --------------------------------------------------------

def test_nothing_to_pay_takes_nothing():
    assert rules.split_payment(Book("u1"), 0) == (0, 0)
    assert rules.split_payment(Book("u1", principal=5, bonus=5), 0) == (0, 0)


def test_a_payment_beyond_the_balance_names_both_amounts():
    with pytest.raises(rules.InsufficientBalance) as short:
        rules.split_payment(Book("u1", principal=100, bonus=10), 111)
    assert short.value.message == "the balance is 110 fen; 111 fen are needed"
    with pytest.raises(rules.InsufficientBalance):
        rules.split_payment(Book("u1", principal=100), -1)


def test_a_refund_of_an_order_that_took_nothing_returns_nothing():
    assert rules.refund_parts(0, 0, 0, 0) == (0, 0)


# -- points ------------------------------------------------------------------------------------

def test_points_earned_per_yuan_paid():
    assert rules.points_earned(10_000, 2) == 200
    assert rules.points_earned(199, 3) == 5


def test_points_discount_edges():
    assert rules.points_discount(1, 1, 10_000, 100) == (1, 1)  # a single point is used
    assert rules.points_discount(0, 1, 10_000, 100) == (0, 0)
    assert rules.points_discount(-5, 1, 10_000, 100) == (0, 0)  # never a negative use
    assert rules.points_discount(5, 0, 10_000, 100) == (0, 0)  # points worth nothing are not used
    assert rules.points_discount(5, -1, 10_000, 100) == (0, 0)
    used, off = rules.points_discount(10**6, 7, 5000, 10_000)  # cap 5000 fen: 714 points of 7 fen
    assert (used, off) == (714, 4998) and type(used) is int and type(off) is int
    assert rules.points_discount(10**6, 1, 10_000, 10_000) == (10_000, 10_000)  # the whole goods at 100%


def test_points_removed_by_refunds():
    assert rules.points_removed(earned=10, paid=0, refunded_before=0, amount=0) == 0
    assert rules.points_removed(earned=10, paid=1, refunded_before=0, amount=1) == 10
    assert rules.points_removed(earned=10, paid=3, refunded_before=1, amount=1) == 3  # 6 - 3
    assert rules.points_removed(earned=10, paid=3, refunded_before=0, amount=1) == 3


# -- levels ------------------------------------------------------------------------------------

def test_below_every_level_there_is_none():
    assert rules.level_for([{"name": "a", "min_growth": 10}], 9) is None
    assert rules.level_for([], 0) is None


def test_member_discount_is_rounded_up_and_never_a_surcharge():
    assert rules.member_discount(10_000, 1) == 1
    assert rules.member_discount(9_999, 1) == 1  # 0.9999 fen rounds up
    assert rules.member_discount(10_001, 1) == 2  # 1.0001 fen: a rate is per 10000
    assert rules.member_discount(10_000, -5) == 0


# -- top-ups -----------------------------------------------------------------------------------

def _top_up(status=rules.TopUpStatus.PAID, amount=10_000, bonus=1000, version=3):
    return rules.TopUp("t1", "u1", "openid", "p1", amount, bonus, status, NOW, version=version)


def test_top_up_numbers_are_wechat_out_trade_nos_of_26_characters():
    derived = rules.top_up_id_for("u1", "key-1")
    assert derived == rules.top_up_id_for("u1", "key-1") and derived != rules.top_up_id_for("u2", "key-1")
    assert derived.startswith("t") and len(derived) == 26 and rules.is_top_up(derived)
    fresh = rules.top_up_id_for("u1", None)
    assert fresh.startswith("t") and len(fresh) == 26 and fresh != rules.top_up_id_for("u1", None)
    assert not rules.is_top_up("o123") and not rules.is_top_up("T123")


def test_a_top_up_is_paid_once():
    paid = rules.top_up_paid(_top_up(rules.TopUpStatus.PENDING_PAYMENT), "420000", "t9")
    assert paid == replace(_top_up(version=4), transaction_id="420000", paid_at="t9")
    with pytest.raises(errors.InvalidState) as again:
        rules.top_up_paid(paid, "420000", "t9")
    assert again.value.message == "a PAID top-up cannot be paid"


def test_a_top_up_refund_takes_the_unspent_principal_and_its_bonus_in_whole_fen():
    after = rules.top_up_refund(_top_up(amount=3, bonus=2), Book("u1", principal=1, bonus=5))
    assert (after.refund_amount, after.refund_bonus, after.version) == (1, 0, 4)
    assert type(after.refund_bonus) is int
    with pytest.raises(errors.NotAcceptable) as nothing:
        rules.top_up_refund(_top_up(), Book("u1", principal=0, bonus=900))
    assert nothing.value.message == "nothing of this top-up is left to refund"
    with pytest.raises(errors.InvalidState) as not_paid:
        rules.top_up_refund(_top_up(rules.TopUpStatus.REFUNDING), Book("u1", principal=100))
    assert not_paid.value.message == "a REFUNDING top-up cannot be refunded"


def test_a_top_up_refund_ends_refunded_or_paid_again():
    refunding = rules.top_up_refund(_top_up(), Book("u1", principal=5000, bonus=900))
    assert rules.top_up_refund_ended(refunding, True) == rules.TopUp(
        "t1", "u1", "openid", "p1", 10_000, 1000, rules.TopUpStatus.REFUNDED, NOW, refund_amount=5000,
        refund_bonus=500, version=5)
    assert rules.top_up_refund_ended(refunding, False, "NOT_ENOUGH") == rules.TopUp(
        "t1", "u1", "openid", "p1", 10_000, 1000, rules.TopUpStatus.PAID, NOW, refund_error="NOT_ENOUGH",
        version=5)
    with pytest.raises(errors.InvalidState) as idle:
        rules.top_up_refund_ended(_top_up(), True)
    assert idle.value.message == "a PAID top-up has no refund in flight"


# -- a top-up's payment window, its prepay id, closing it --------------------------------------

CREATED = "2026-12-05T08:00:00Z"
T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _open(status=rules.TopUpStatus.PENDING_PAYMENT, **fields):
    """A top-up created at 08:00:00Z with a window to 08:30:00Z."""
    return rules.TopUp("t1", "u1", "openid", "p1", 10_000, 1000, status, CREATED, version=2,
                       expires_at="2026-12-05T08:30:00Z", **fields)


def test_the_window_ends_the_payment_timeout_after_creation_in_whole_seconds():
    assert rules.top_up_window_end(datetime(2026, 12, 5, 8, 0, 0, 987_654, tzinfo=UTC), 1800) == \
        datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
    assert rules.top_up_window_end(T0, 1) == datetime(2026, 12, 5, 8, 0, 1, tzinfo=UTC)


def test_an_open_top_up_is_handed_out_again_only_with_more_than_the_margin_left():
    assert rules.REUSE_MARGIN_S == 60
    end = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
    assert rules.top_up_reusable(_open(), T0) is True
    assert rules.top_up_reusable(_open(), end - timedelta(seconds=61)) is True
    assert rules.top_up_reusable(_open(), end - timedelta(seconds=60)) is False
    assert rules.top_up_reusable(_open(), end - timedelta(seconds=59)) is False
    assert rules.top_up_reusable(_open(), end + timedelta(seconds=1)) is False


@pytest.mark.parametrize("status", [s for s in rules.TopUpStatus if s != rules.TopUpStatus.PENDING_PAYMENT])
def test_only_an_unpaid_top_up_is_handed_out_again(status):
    assert rules.top_up_reusable(_open(status), T0) is False


def test_an_unpaid_top_up_without_a_window_is_never_handed_out_again():
    assert rules.top_up_reusable(replace(_open(), expires_at=None), T0) is False


def test_a_prepay_id_lives_its_ttl_less_one_second_from_creation():
    assert rules.PREPAY_TTL_S == 2 * 3600 - 10 * 60  # WeChat's 2 hours, 10 minutes kept
    held = _open(prepay_id="wx1")
    assert rules.top_up_prepay_fresh(held, T0) is True
    assert rules.top_up_prepay_fresh(held, T0 + timedelta(seconds=rules.PREPAY_TTL_S - 1)) is True
    assert rules.top_up_prepay_fresh(held, T0 + timedelta(seconds=rules.PREPAY_TTL_S)) is False
    assert rules.top_up_prepay_fresh(held, T0 + timedelta(seconds=rules.PREPAY_TTL_S + 1)) is False


def test_a_renewed_prepay_id_lives_from_when_wechat_gave_it():
    renewed = _open(prepay_id="wx2", prepay_at="2026-12-05T10:00:00Z")
    at = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert rules.top_up_prepay_fresh(renewed, at + timedelta(seconds=60)) is True  # 2 h 1 min after creation
    assert rules.top_up_prepay_fresh(renewed, at + timedelta(seconds=rules.PREPAY_TTL_S - 1)) is True
    assert rules.top_up_prepay_fresh(renewed, at + timedelta(seconds=rules.PREPAY_TTL_S)) is False


@pytest.mark.parametrize("prepay_id", [None, ""])
def test_without_a_prepay_id_there_is_nothing_fresh(prepay_id):
    assert rules.top_up_prepay_fresh(_open(prepay_id=prepay_id), T0) is False
    assert rules.top_up_prepay_fresh(_open(prepay_id=prepay_id, prepay_at=CREATED), T0) is False


def test_an_unpaid_top_up_is_closed_once():
    closed = rules.top_up_closed(_open(prepay_id="wx1"), "2026-12-05T08:31:00Z")
    assert closed == rules.TopUp("t1", "u1", "openid", "p1", 10_000, 1000, rules.TopUpStatus.CLOSED, CREATED,
                                 prepay_id="wx1", version=3, expires_at="2026-12-05T08:30:00Z",
                                 closed_at="2026-12-05T08:31:00Z")
    with pytest.raises(errors.InvalidState) as again:
        rules.top_up_closed(closed, "2026-12-05T08:32:00Z")
    assert again.value.message == "a CLOSED top-up cannot be closed"
    with pytest.raises(errors.InvalidState) as paid:
        rules.top_up_closed(_open(rules.TopUpStatus.PAID, transaction_id="420000"), "2026-12-05T08:31:00Z")
    assert paid.value.message == "a PAID top-up cannot be closed"


def test_a_payment_that_beat_the_close_pays_the_closed_top_up_once():
    closed = rules.top_up_closed(_open(), "2026-12-05T08:31:00Z")
    paid = rules.top_up_paid(closed, "420000", "2026-12-05T08:31:05Z")
    assert paid == rules.TopUp("t1", "u1", "openid", "p1", 10_000, 1000, rules.TopUpStatus.PAID, CREATED,
                               transaction_id="420000", paid_at="2026-12-05T08:31:05Z", version=4,
                               expires_at="2026-12-05T08:30:00Z", closed_at="2026-12-05T08:31:00Z")
    with pytest.raises(errors.InvalidState) as again:
        rules.top_up_paid(paid, "420000", "2026-12-05T08:31:06Z")
    assert again.value.message == "a PAID top-up cannot be paid"


@pytest.mark.parametrize("status", [s for s in rules.TopUpStatus if s != rules.TopUpStatus.PENDING_PAYMENT])
@pytest.mark.parametrize("transaction_id", [None, "420000"])
def test_only_an_unpaid_or_closed_unpaid_top_up_can_be_paid(status, transaction_id):
    top_up = _open(status, transaction_id=transaction_id)
    if status == rules.TopUpStatus.CLOSED and transaction_id is None:
        assert rules.top_up_paid(top_up, "420001", "t9").status == rules.TopUpStatus.PAID
        return
    with pytest.raises(errors.InvalidState) as refused:
        rules.top_up_paid(top_up, "420001", "t9")
    assert refused.value.message == f"a {status.value} top-up cannot be paid"


def test_a_refund_wechat_answers_abnormal_keeps_its_version_and_amounts():
    refunding = rules.top_up_refund(_top_up(), Book("u1", principal=5000, bonus=900))
    abnormal = rules.top_up_refund_abnormal(refunding)
    assert abnormal == rules.TopUp("t1", "u1", "openid", "p1", 10_000, 1000, rules.TopUpStatus.REFUND_ABNORMAL, NOW,
                                   refund_amount=5000, refund_bonus=500, version=4)
    for status in (rules.TopUpStatus.PAID, rules.TopUpStatus.REFUND_ABNORMAL, rules.TopUpStatus.REFUNDED):
        with pytest.raises(errors.InvalidState) as idle:
            rules.top_up_refund_abnormal(_top_up(status))
        assert idle.value.message == f"a {status.value} top-up has no refund in flight"


def test_an_abnormal_refund_sent_to_a_bank_card_is_in_flight_again_under_the_same_number():
    abnormal = rules.top_up_refund_abnormal(rules.top_up_refund(_top_up(), Book("u1", principal=5000, bonus=900)))
    assert rules.top_up_abnormal_applied(abnormal) == rules.TopUp(
        "t1", "u1", "openid", "p1", 10_000, 1000, rules.TopUpStatus.REFUNDING, NOW, refund_amount=5000,
        refund_bonus=500, version=4)
    for status in (rules.TopUpStatus.REFUNDING, rules.TopUpStatus.PAID):
        with pytest.raises(errors.InvalidState) as refused:
            rules.top_up_abnormal_applied(_top_up(status))
        assert refused.value.message == (f"only a REFUND_ABNORMAL top-up refund can go to a bank card; "
                                         f"it is {status.value}")
