"""The promotion repository, in memory and on DynamoDB Local alike: each promotion its own
item, listed newest first; the live ones in one item written by compare-and-set with every
create and stop, so concurrent writes lose nothing; at most MAX_LIVE not ended; the largest
live item fits DynamoDB's item limit."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import errors
from layers.domain.promotion import (
    ACTIVE,
    AMOUNT_OFF,
    GIFT,
    MAX_ID,
    MAX_LIVE,
    MAX_NAME,
    MAX_SCOPE,
    STOPPED,
    Promotion,
    Tier,
)

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
_RUN = {"suffix": ""}


@pytest.fixture(autouse=True)
def _own_ids():
    """Ids of this test's own: the table is shared by every test of the session."""
    _RUN["suffix"] = "_" + uuid.uuid4().hex[:8]


def pid(name: str) -> str:
    return name + _RUN["suffix"]


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def promotions(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.promotions import MemoryPromotionRepository

        return MemoryPromotionRepository(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.promotions import DynamoPromotionRepository

    # a live item and a list of this test's own: the shop's are shared by every test of the session
    own = uuid.uuid4().hex
    return DynamoPromotionRepository(live_key=("PROMOTIONS", f"LIVE#test-{own}"), listed_as=f"PROMOTIONS#test-{own}")


def a_promotion(promotion_id: str, created: float = 0, ends: float = 240, **kw) -> Promotion:
    return Promotion(**{
        "promotion_id": promotion_id, "name": "满300减50", "kind": AMOUNT_OFF,
        "tiers": (Tier(value=5000, threshold=30000), Tier(value=10000, threshold=50000)),
        "starts_at": at(-1), "ends_at": at(ends), "product_ids": frozenset({"p_1", "p_2"}),
        "category_ids": frozenset({"c_tea"}), "created_at": at(created), **kw})


class TestPromotionRepository:
    def test_created_read_back_live_and_listed_newest_first(self, promotions):
        assert promotions.get(pid("pr_1")) is None and promotions.live() == []
        assert promotions.page(10, None) == ([], None)
        first = a_promotion(pid("pr_1"))
        gift = a_promotion(pid("pr_2"), created=1, kind=GIFT, tiers=(Tier(value=1, min_quantity=2),),
                           gift_sku_id="s_gift", product_ids=frozenset(), category_ids=frozenset(),
                           new_customers_only=True, with_coupons=False)
        assert promotions.create(first, NOW) == first
        assert promotions.create(gift, NOW) == gift
        assert promotions.get(pid("pr_1")) == first and promotions.get(pid("pr_2")) == gift
        assert promotions.live() == [first, gift]  # in the order they were made
        with pytest.raises(errors.InvalidState):
            promotions.create(a_promotion(pid("pr_1"), name="again"), NOW)
        assert promotions.get(pid("pr_1")) == first and promotions.live() == [first, gift]
        page, cursor = promotions.page(1, None)
        assert page == [gift] and cursor
        page, cursor = promotions.page(1, cursor)
        assert page == [first]
        if cursor:  # DynamoDB may hand back a key at the end of a full page: it finds nothing more
            assert promotions.page(1, cursor) == ([], None)

    def test_a_stop_is_one_write_of_both_and_a_retry_is_answered_as_it_is(self, promotions):
        promotions.create(a_promotion(pid("pr_1")), NOW)
        promotions.create(a_promotion(pid("pr_2"), created=1), NOW)
        done = promotions.stop(pid("pr_1"), NOW + timedelta(minutes=5))
        assert (done.status, done.stopped_at, done.version) == (STOPPED, "2026-12-05T08:05:00Z", 2)
        assert promotions.get(pid("pr_1")) == done
        assert [p.promotion_id for p in promotions.live()] == [pid("pr_2")]
        assert promotions.stop(pid("pr_1"), NOW + timedelta(hours=1)) == done  # not stopped again
        assert [p.promotion_id for p in promotions.page(10, None)[0]] == [pid("pr_2"), pid("pr_1")]
        with pytest.raises(errors.NotFound):
            promotions.stop(pid("pr_missing"), NOW)

    def test_ended_ones_leave_the_live_item_at_the_next_write_and_free_their_place(self, promotions):
        for n in range(MAX_LIVE - 1):
            promotions.create(a_promotion(pid(f"pr_{n:02d}"), created=n / 100), NOW)
        promotions.create(a_promotion(pid("pr_short"), created=1, ends=2), NOW)
        with pytest.raises(errors.LimitExceeded):
            promotions.create(a_promotion(pid("pr_one_more"), created=2), NOW)
        assert promotions.get(pid("pr_one_more")) is None and len(promotions.live()) == MAX_LIVE
        later = NOW + timedelta(hours=3)  # pr_short has ended: its place is free
        promotions.create(a_promotion(pid("pr_one_more"), created=3), later)
        live = [p.promotion_id for p in promotions.live()]
        assert len(live) == MAX_LIVE and pid("pr_short") not in live and live[-1] == pid("pr_one_more")
        assert promotions.get(pid("pr_short")).status == ACTIVE  # ended, not stopped: still in the history

    def test_a_promotion_created_ended_is_stored_but_not_live(self, promotions):
        old = a_promotion(pid("pr_old"), ends=1)
        promotions.create(old, NOW + timedelta(hours=2))
        assert promotions.get(pid("pr_old")) == old and promotions.live() == []

    def test_two_concurrent_creates_are_both_kept(self, promotions):
        threads = 6
        start = threading.Barrier(threads)

        def make(n):
            start.wait()
            return promotions.create(a_promotion(pid(f"pr_{n}"), created=n), NOW).promotion_id

        with ThreadPoolExecutor(threads) as pool:
            made = list(pool.map(make, range(threads)))
        assert sorted(p.promotion_id for p in promotions.live()) == sorted(made) == [pid(f"pr_{n}") for n in range(threads)]
        assert all(promotions.get(pid(f"pr_{n}")) is not None for n in range(threads))

    def test_a_create_racing_a_stop_loses_neither(self, promotions):
        for _ in range(3):  # a few rounds: either may write first
            tag = uuid.uuid4().hex[:6]
            promotions.create(a_promotion(pid(f"pr_old_{tag}")), NOW)
            start = threading.Barrier(2)

            def create(tag=tag, start=start):
                start.wait()
                return promotions.create(a_promotion(pid(f"pr_new_{tag}"), created=1), NOW)

            def stop(tag=tag, start=start):
                start.wait()
                return promotions.stop(pid(f"pr_old_{tag}"), NOW)

            with ThreadPoolExecutor(2) as pool:
                made, done = pool.submit(create), pool.submit(stop)
                made.result(), done.result()
            live = {p.promotion_id for p in promotions.live()}
            assert pid(f"pr_new_{tag}") in live and pid(f"pr_old_{tag}") not in live
            assert promotions.get(pid(f"pr_old_{tag}")).status == STOPPED

    def test_two_concurrent_stops_of_one_promotion_stop_it_once(self, promotions):
        promotions.create(a_promotion(pid("pr_1")), NOW)
        start = threading.Barrier(2)

        def stop(minutes):
            start.wait()
            return promotions.stop(pid("pr_1"), NOW + timedelta(minutes=minutes))

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(stop, [1, 2]))
        stored = promotions.get(pid("pr_1"))
        assert stored.version == 2 and stored.status == STOPPED
        assert answers[0] == answers[1] == stored  # the later one answered with what the first wrote
        assert promotions.live() == []


def largest(promotion_id: str, created: int) -> Promotion:
    """As big as a promotion gets: every scope full of the longest ids, five tiers."""
    return Promotion(
        promotion_id=promotion_id, name="促" * MAX_NAME, kind=AMOUNT_OFF,
        tiers=tuple(Tier(value=99_999_000 + n, threshold=99_999_995 + n) for n in range(5)),
        starts_at=at(0), ends_at=at(240), created_at=at(created), version=999,
        product_ids=frozenset(f"{n:0{MAX_ID}d}" for n in range(MAX_SCOPE)),
        category_ids=frozenset(f"c{n:0{MAX_ID - 1}d}" for n in range(MAX_SCOPE)))


def test_the_live_item_stays_well_under_the_item_limit():
    from layers.storage.promotions import decode, dump, encode

    usual = [a_promotion(f"pr_{uuid.uuid4().hex[:20]}", product_ids=frozenset(
        f"p_{uuid.uuid4().hex[:20]}" for _ in range(MAX_SCOPE))) for _ in range(MAX_LIVE)]
    assert len(dump(usual).encode()) < 150_000  # 50 promotions of 100 shop-made product ids each
    big = largest("pr_" + "x" * 20, 0)
    assert decode(encode(big)) == big
    size = len(dump([largest(f"pr_{n:020d}", n) for n in range(MAX_LIVE)]).encode())
    assert size < 380_000, size  # DynamoDB's limit is 400 KB an item, keys and names included


@pytest.mark.integration
def test_the_largest_live_item_is_written_and_read_whole(dynamodb):
    from layers.storage.promotions import DynamoPromotionRepository, PromotionsLiveItem, to_live

    key = ("PROMOTIONS", f"LIVE#test-{uuid.uuid4().hex}")
    repo = DynamoPromotionRepository(live_key=key, listed_as=f"PROMOTIONS#test-{uuid.uuid4().hex}")
    for n in range(MAX_LIVE):
        repo.create(largest(f"pr_{uuid.uuid4().hex[:20]}", n), NOW)
    found = to_live(PromotionsLiveItem.get(*key))  # as an order's batch read takes it
    assert len(found) == MAX_LIVE and found[0].product_ids == largest("x", 0).product_ids
    assert to_live(None) == []


@pytest.mark.integration
def test_the_shops_live_item_is_the_one_exported_for_the_order_read(dynamodb):
    from layers.storage.promotions import LIVE_KEY, DynamoPromotionRepository

    assert LIVE_KEY == ("PROMOTIONS", "LIVE")
    assert DynamoPromotionRepository().live_key == LIVE_KEY
