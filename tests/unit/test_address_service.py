"""The address service over the in-memory book: views, paging, and a write that finds the
book moved reads it again (a few times, then 429 busy)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from layers.domain import errors
from layers.services.addresses import ATTEMPTS, AddressService
from tests.fakes.addresses import MemoryAddressBookRepository
from tests.fakes.memory import FakeClock, MemoryStore

HOME = {"name": "张三", "phone": "13800000000", "province": "上海", "city": "上海", "district": "静安区",
        "detail": "南京西路 1 号"}


def body(is_default=None, **changes):
    return SimpleNamespace(**{**HOME, **changes}, is_default=is_default)


@pytest.fixture
def world():
    ids = iter(f"a{n}" for n in range(100))
    books = MemoryAddressBookRepository(MemoryStore())
    clock = FakeClock()
    return SimpleNamespace(books=books, clock=clock,
                           service=AddressService(books=books, clock=clock, new_id=lambda: next(ids)))


def test_add_update_remove_answer_the_address_as_the_shopper_sees_it(world):
    s = world.service
    first = s.add("u1", body())
    assert first == {"id": "a0", **HOME, "is_default": True, "created_at": "2026-11-29T02:00:00Z",
                     "updated_at": "2026-11-29T02:00:00Z"}
    world.clock.advance(60)
    second = s.add("u1", body(is_default=True, detail="漕河泾 2 号"))
    assert second["is_default"] and second["created_at"] == "2026-11-29T02:01:00Z"
    world.clock.advance(60)
    edited = s.update("u1", "a0", body(phone="13900000000"))
    assert (edited["phone"], edited["is_default"], edited["updated_at"]) == ("13900000000", False,
                                                                            "2026-11-29T02:02:00Z")
    items, next_key = s.page("u1", 20, None)
    assert [a["id"] for a in items] == ["a1", "a0"] and next_key is None
    s.remove("u1", "a1")
    assert s.page("u1", 20, None)[0] == [{**edited, "is_default": True}]
    with pytest.raises(errors.NotFound):
        s.update("u2", "a0", body())  # another shopper's address is not in their book
    with pytest.raises(errors.NotFound):
        s.remove("u2", "a0")


def test_a_smaller_page_goes_on_by_position(world):
    for _ in range(5):
        world.service.add("u1", body())
        world.clock.advance(1)
    first, cursor = world.service.page("u1", 2, None)
    second, cursor2 = world.service.page("u1", 2, cursor)
    third, end = world.service.page("u1", 2, cursor2)
    assert [a["id"] for a in first + second + third] == ["a0", "a4", "a3", "a2", "a1"] and end is None
    with pytest.raises(errors.InvalidRequest):
        world.service.page("u1", 2, {"offset": "x"})


def test_a_write_that_finds_the_book_moved_decides_again_on_the_new_one(world):
    world.service.add("u1", body())
    saves = world.books.save
    calls = []

    def another_device_first(before, after):
        if not calls:  # another phone saves an address between this write's read and its save
            calls.append(1)
            other = before.add("other", HOME, is_default=True, now="2026-11-29T02:00:30Z")
            assert saves(before, other)
        return saves(before, after)

    world.books.save = another_device_first
    world.service.add("u1", body(is_default=True))
    book = world.books.get("u1")
    assert [a.address_id for a in book.addresses] == ["a0", "other", "a1"]
    assert [a.address_id for a in book.addresses if a.is_default] == ["a1"] and book.version == 3


def test_a_book_that_keeps_moving_answers_busy_and_nothing_is_half_written(world):
    world.books.save = lambda before, after: False
    with pytest.raises(errors.RateLimited):
        world.service.add("u1", body())
    assert world.books.get("u1").addresses == () and ATTEMPTS >= 3
