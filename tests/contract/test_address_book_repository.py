"""The address book repository: in memory and on DynamoDB Local, alike. One item per
shopper written by compare-and-set on its version, so 30 shoppers' devices adding at once
end with exactly 20 addresses, none lost and one default; on DynamoDB the item holds the
addresses sealed, never in plaintext."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from layers.domain import errors
from layers.domain.addresses import MAX_ADDRESSES, AddressBook

HOME = {"name": "王小明", "phone": "13912345678", "province": "浙江省", "city": "杭州市", "district": "西湖区",
        "detail": "文三路 90 号 东部软件园"}
NOW = "2026-11-29T02:00:00Z"


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def books(request):
    if request.param == "memory":
        from tests.fakes.addresses import MemoryAddressBookRepository
        from tests.fakes.memory import MemoryStore

        return MemoryAddressBookRepository(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.addresses import DynamoAddressBookRepository

    return DynamoAddressBookRepository()


def shopper() -> str:
    return "u_" + uuid.uuid4().hex[:12]


class TestAddressBookRepository:
    def test_a_book_never_saved_is_empty_at_version_0(self, books):
        user = shopper()
        assert books.get(user) == AddressBook(user)

    def test_what_is_saved_reads_back_the_same(self, books):
        user = shopper()
        empty = books.get(user)
        one = empty.add("a1", HOME, is_default=None, now=NOW)
        assert books.save(empty, one)
        two = one.add("a2", {**HOME, "province": None, "city": None, "district": None}, is_default=True, now=NOW)
        assert books.save(one, two)
        assert books.get(user) == two
        one_left = two.remove("a1")
        assert books.save(two, one_left)
        emptied = one_left.remove("a2")
        assert books.save(one_left, emptied)
        assert books.get(user) == AddressBook(user, (), version=4)  # kept, empty: the version goes on

    def test_a_write_decided_on_a_stale_read_changes_nothing(self, books):
        user = shopper()
        read = books.get(user)
        first = read.add("a1", HOME, is_default=None, now=NOW)
        assert books.save(read, first)
        assert not books.save(read, read.add("a2", HOME, is_default=None, now=NOW))  # no item was expected
        second = first.add("a2", HOME, is_default=True, now=NOW)
        assert books.save(first, second)
        assert not books.save(first, first.remove("a1"))
        assert books.get(user) == second
        assert books.get(shopper()) != second  # another shopper's book is their own

    def test_thirty_concurrent_adds_end_with_exactly_twenty_none_lost_and_one_default(self, books):
        user = shopper()
        threads = 30
        barrier = threading.Barrier(threads)

        def add(n: int) -> str:
            book = books.get(user)
            barrier.wait(timeout=30)  # every thread has read the same empty book: the race is certain
            for _ in range(200):
                try:
                    after = book.add(f"a{n:02d}", {**HOME, "detail": f"{n} 号"}, is_default=n % 3 == 0, now=NOW)
                except errors.LimitExceeded:
                    return "full"
                if books.save(book, after):
                    return f"a{n:02d}"
                book = books.get(user)
            return "gave up"

        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(add, range(threads)))
        added = sorted(o for o in outcomes if o.startswith("a"))
        assert len(added) == MAX_ADDRESSES and outcomes.count("full") == threads - MAX_ADDRESSES, outcomes
        book = books.get(user)
        assert sorted(a.address_id for a in book.addresses) == added  # none lost, none extra
        assert len([a for a in book.addresses if a.is_default]) == 1
        assert book.version == MAX_ADDRESSES


@pytest.mark.integration
def test_the_stored_item_holds_the_addresses_sealed_and_bound_to_it(dynamodb):
    from layers.storage.addresses import (
        AddressBookItem,
        DynamoAddressBookRepository,
        book_key,
        to_address_book,
    )
    from layers.storage.base import ShopModel, shared_connection
    from layers.storage.pii import PiiTampered

    books = DynamoAddressBookRepository()
    user = shopper()
    empty = books.get(user)
    book = empty.add("a1", HOME, is_default=None, now=NOW)
    assert books.save(empty, book)

    raw = shared_connection().get_item(ShopModel.Meta.table_name, *book_key(user), consistent_read=True)["Item"]
    assert set(raw) == {"pk", "sk", "version", "sealed"}
    assert raw["sealed"]["S"].startswith("v1:")
    stored = repr(raw)
    for plain in ("王小明", "13912345678", "文三路", "西湖区", "杭州市", "浙江省"):
        assert plain not in stored and json.dumps(plain).strip('"') not in stored  # nor JSON-escaped

    # The same sealed value copied into another shopper's item does not open there.
    item = AddressBookItem.get(*book_key(user), consistent_read=True)
    assert to_address_book(user, item) == book
    with pytest.raises(PiiTampered):
        to_address_book(shopper(), item)
