"""The address book's rules (layers/domain/addresses.py): at most 20; the first is the
default; a new default unsets the old; removing (or un-defaulting) the default moves it to
the most recently updated other address; exact books after each step, and the invariants
over any sequence of steps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain.addresses import MAX_ADDRESSES, AddressBook, SavedAddress, order_address

HOME = {"name": "张三", "phone": "13800000000", "province": "上海", "city": "上海", "district": "静安区",
        "detail": "南京西路 1 号"}
WORK = {"name": "张三", "phone": "13800000000", "province": None, "city": None, "district": None,
        "detail": "漕河泾开发区 2 号楼"}


def t(n: int) -> str:
    return f"2026-11-29T02:00:{n:02d}Z"


def saved(address_id, details, is_default, created, updated=None) -> SavedAddress:
    return SavedAddress(address_id=address_id, **details, is_default=is_default, created_at=t(created),
                        updated_at=t(updated if updated is not None else created))


def defaults(book: AddressBook) -> list[str]:
    return [a.address_id for a in book.addresses if a.is_default]


def test_the_first_address_is_the_default_whatever_it_asks():
    book = AddressBook("u1").add("a1", HOME, is_default=False, now=t(1))
    assert book == AddressBook("u1", (saved("a1", HOME, True, 1),), version=1)


def test_a_later_one_is_the_default_only_when_it_asks_and_then_the_old_one_is_not():
    book = AddressBook("u1").add("a1", HOME, is_default=None, now=t(1)).add("a2", WORK, is_default=None, now=t(2))
    assert book.addresses == (saved("a1", HOME, True, 1), saved("a2", WORK, False, 2))
    book = book.add("a3", HOME, is_default=True, now=t(3))
    # The old default loses the flag; its updated_at is the shopper's last edit, untouched.
    assert book.addresses == (saved("a1", HOME, False, 1), saved("a2", WORK, False, 2), saved("a3", HOME, True, 3))
    assert book.version == 3


def test_the_21st_is_refused_and_the_book_is_unchanged():
    book = AddressBook("u1")
    for n in range(MAX_ADDRESSES):
        book = book.add(f"a{n}", HOME, is_default=None, now=t(n))
    assert len(book.addresses) == 20 and book.version == 20
    with pytest.raises(errors.LimitExceeded):
        book.add("a20", HOME, is_default=True, now=t(30))
    assert len(book.addresses) == 20 and defaults(book) == ["a0"]
    # One removed, one fits again.
    assert len(book.remove("a3").add("a20", HOME, is_default=None, now=t(31)).addresses) == 20


def test_an_update_replaces_the_fields_and_keeps_or_moves_the_default():
    book = AddressBook("u1").add("a1", HOME, is_default=None, now=t(1)).add("a2", HOME, is_default=None, now=t(2))
    edited = book.update("a2", WORK, is_default=None, now=t(5))
    assert edited.addresses == (saved("a1", HOME, True, 1), saved("a2", WORK, False, 2, 5))
    made_default = edited.update("a2", WORK, is_default=True, now=t(6))
    assert made_default.addresses == (saved("a1", HOME, False, 1), saved("a2", WORK, True, 2, 6))
    # The default asked not to be: the most recently updated other one takes it.
    given_up = made_default.update("a2", HOME, is_default=False, now=t(7))
    assert given_up.addresses == (saved("a1", HOME, True, 1), saved("a2", HOME, False, 2, 7))
    assert given_up.version == 5


def test_the_only_address_stays_the_default():
    book = AddressBook("u1").add("a1", HOME, is_default=None, now=t(1))
    assert book.update("a1", WORK, is_default=False, now=t(2)).addresses == (saved("a1", WORK, True, 1, 2),)


def test_removing_the_default_makes_the_most_recently_updated_one_the_default():
    book = AddressBook("u1")
    for n in (1, 2, 3):
        book = book.add(f"a{n}", HOME, is_default=None, now=t(n))
    book = book.update("a2", WORK, is_default=None, now=t(9))  # a2 updated last, a3 added last
    after = book.remove("a1")
    assert after.addresses == (saved("a2", WORK, True, 2, 9), saved("a3", HOME, False, 3))
    # Removing one that is not the default leaves the default where it is.
    assert after.remove("a3").addresses == (saved("a2", WORK, True, 2, 9),)
    assert after.remove("a2").addresses == (saved("a3", HOME, True, 3),)
    assert after.remove("a2").remove("a3") == AddressBook("u1", (), version=book.version + 3)


def test_equal_update_times_favour_the_one_added_last():
    book = AddressBook("u1")
    for n in (1, 2, 3):
        book = book.add(f"a{n}", HOME, is_default=None, now=t(0))
    assert defaults(book.remove("a1")) == ["a3"]


def test_an_id_the_book_does_not_hold_is_not_found():
    book = AddressBook("u1").add("a1", HOME, is_default=None, now=t(1))
    with pytest.raises(errors.NotFound):
        book.update("a9", HOME, is_default=None, now=t(2))
    with pytest.raises(errors.NotFound):
        book.remove("a9")
    assert book.get("a9") is None and book.get("a1").detail == HOME["detail"]


def test_listed_default_first_then_most_recently_updated():
    book = AddressBook("u1")
    for n in (1, 2, 3, 4):
        book = book.add(f"a{n}", HOME, is_default=None, now=t(n))
    book = book.update("a2", WORK, is_default=None, now=t(8)).add("a5", HOME, is_default=None, now=t(8))
    assert [a.address_id for a in book.listed()] == ["a1", "a5", "a2", "a4", "a3"]


def test_an_order_keeps_the_six_fields_an_inline_address_has():
    a = saved("a1", WORK, True, 1)
    assert order_address(a) == {"name": "张三", "phone": "13800000000", "province": None, "city": None,
                                "district": None, "detail": "漕河泾开发区 2 号楼"}
    # exactly what POST /orders keeps of an address given inline
    from functions.schemas import Address

    assert order_address(saved("a1", HOME, True, 1)) == Address.model_validate(HOME).model_dump(mode="json")


steps = st.lists(st.tuples(st.sampled_from(["add", "update", "remove"]), st.integers(0, 24),
                           st.sampled_from([None, True, False]), st.integers(0, 5)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_any_sequence_keeps_at_most_20_and_exactly_one_default(sequence):
    book = AddressBook("u1")
    for n, (op, which, is_default, tick) in enumerate(sequence):
        before = book
        try:
            if op == "add":
                book = book.add(f"x{n}", HOME, is_default=is_default, now=t(tick))
            elif op == "update":
                book = book.update(f"x{which}", WORK, is_default=is_default, now=t(tick))
            else:
                book = book.remove(f"x{which}")
        except (errors.LimitExceeded, errors.NotFound):
            assert book is before
            continue
        assert book.version == before.version + 1
        assert len(book.addresses) <= MAX_ADDRESSES
        assert len(defaults(book)) == (1 if book.addresses else 0)
        if is_default and op in ("add", "update"):
            assert book.default().address_id == (f"x{n}" if op == "add" else f"x{which}")
