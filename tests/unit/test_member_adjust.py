"""An owner's adjustment of a member's balance or points, over the in-memory
repositories: one ledgered movement, never below zero, once per form, books equal entries."""

from __future__ import annotations

import threading

import pytest

from layers.domain import errors
from layers.domain import members as rules
from layers.domain.members import BALANCE, POINTS, Book
from tests.fakes.member_shop import MemberShop


@pytest.fixture
def shop():
    return MemberShop()


def test_a_credit_goes_to_the_bonus_and_a_debit_takes_the_bonus_first(shop):
    shop.top_up(pay=10000, bonus=1000)
    done = shop.members.adjust("u1", BALANCE, 500, "补偿运费", "owner", "a1")
    assert done["duplicate"] is False
    assert done["entry"] == {"id": "admin#a1", "amount": 500, "kind": "admin_adjust",
                             "created_at": done["entry"]["created_at"], "principal": 0, "bonus": 500,
                             "note": "owner: 补偿运费"}
    assert (shop.book().principal, shop.book().bonus) == (10000, 1500)
    shop.members.adjust("u1", BALANCE, -2000, "误充", "owner", "a2")
    assert (shop.book().principal, shop.book().bonus) == (9500, 0)
    shop.assert_books_equal_ledgers()


def test_below_zero_is_refused_in_chinese_and_changes_nothing(shop):
    shop.top_up(pay=1000, bonus=0)
    with pytest.raises(rules.InsufficientBalance) as e:
        shop.members.adjust("u1", BALANCE, -1001, "扣回", "owner", "a1")
    assert "余额不足" in e.value.message and e.value.kind == "conflict"
    assert shop.book().principal == 1000 and shop.members_repo.entries_for("u1", BALANCE, "admin#") == []
    with pytest.raises(rules.InsufficientPoints) as e:
        shop.members.adjust("u1", POINTS, -1, "扣积分", "owner", "a2")
    assert "积分不足" in e.value.message and shop.book(book=POINTS).available == 0


def test_points_up_and_down(shop):
    shop.members.adjust("u1", POINTS, 300, "活动奖励", "owner", "p1")
    shop.members.adjust("u1", POINTS, -100, "撤回", "owner", "p2")
    assert shop.book(book=POINTS).available == 200
    shop.assert_books_equal_ledgers()


def test_the_same_form_twice_moves_the_book_once(shop):
    shop.members.adjust("u1", BALANCE, 500, "补偿", "owner", "same")
    assert shop.members.adjust("u1", BALANCE, 500, "补偿", "owner", "same") == {"entry": None, "duplicate": True}
    assert shop.book().bonus == 500


@pytest.mark.parametrize("amount,reason,adjust_id", [(0, "x", "a"), (10**8, "x", "a"), (5, "", "a"),
                                                     (5, "x" * 101, "a"), (5, "x", ""), (5, "x", "a#b")])
def test_bad_input_is_refused(shop, amount, reason, adjust_id):
    with pytest.raises(errors.InvalidRequest):
        shop.members.adjust("u1", BALANCE, amount, reason, "owner", adjust_id)
    assert shop.book() == Book("u1")


def test_an_unknown_shopper_is_404_when_users_are_given(shop):
    class NoUsers:
        def get_user(self, user_id):
            return None

    shop.members.users = NoUsers()
    with pytest.raises(errors.NotFound):
        shop.members.adjust("ghost", BALANCE, 100, "x", "owner", "a1")


def test_concurrent_debits_never_go_below_zero(shop):
    shop.top_up(pay=1000, bonus=0)
    results, lock = [], threading.Lock()

    def debit(i):
        try:
            shop.members.adjust("u1", BALANCE, -300, "扣回", "owner", f"d{i}")
            outcome = "ok"
        except errors.DomainError as exc:
            outcome = exc.code
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=debit, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 3 and set(results) <= {"ok", "INSUFFICIENT_BALANCE", "RATE_LIMITED"}
    assert shop.book().principal == 100
    shop.assert_books_equal_ledgers()
