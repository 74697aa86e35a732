"""The storefront's pure rules: search in Chinese, sorting, categories, specs, issued images,
and the listing and campaign services over the in-memory fakes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.domain import errors, uploads
from layers.domain import storefront as rules
from layers.domain.storefront import Category, Entry, Listing


def entry(pid, title, price=100, created="2026-12-01T00:00:00Z", **kw) -> Entry:
    return Entry(product_id=pid, title=title, price=price, created_at=created, **kw)


TEA = [entry("p1", "红茶 250g", 3000, sales=5, tags=("正山小种",), category_names=("茶叶",)),
       entry("p2", "绿茶礼盒", 8800, sales=50, category_names=("茶叶",)),
       entry("p3", "茶杯", 1200, sales=1, category_names=("器具",)),
       entry("p4", "咖啡豆", 6800, sales=99, tags=("下午茶",), category_names=("咖啡",)),
       entry("p5", "ＴＥＡ Cup", 900)]


# -- search --------------------------------------------------------------------------------

def test_one_chinese_character_finds_every_product_that_contains_it():
    found = Listing.build(TEA).search("茶")
    assert set(found) == {"p1", "p2", "p3", "p4"}  # p4 by its tag 下午茶


def test_two_characters_find_the_substring_not_the_characters_apart():
    listing = Listing.build(TEA)
    assert set(listing.search("红茶")) == {"p1"}
    assert listing.search("茶红") == {}  # both characters are there, not in this order


def test_a_title_match_ranks_before_a_tag_match_then_sales_decide():
    ids = Listing.build(TEA).select(q="茶")
    # 茶杯 starts with 茶 (a title prefix); 红茶 and 绿茶 contain it (绿茶 sold more); 咖啡豆 only by tag
    assert ids == ["p3", "p2", "p1", "p4"]


def test_tags_and_category_names_are_searched():
    listing = Listing.build(TEA)
    assert set(listing.search("小种")) == {"p1"}
    assert set(listing.search("器具")) == {"p3"}


def test_full_width_letters_case_and_spaces_are_folded():
    listing = Listing.build(TEA)
    assert set(listing.search("tea")) == {"p5"}
    assert set(listing.search("红 茶")) == {"p1"}


def test_an_empty_or_unmatched_query_finds_nothing():
    listing = Listing.build(TEA)
    assert listing.search("   ") == {}
    assert listing.select(q="酒") == []


@given(st.lists(st.text(alphabet="红绿茶杯咖啡豆礼盒a1", min_size=1, max_size=8), min_size=1, max_size=20),
       st.text(alphabet="红绿茶杯咖啡豆礼盒a1", min_size=1, max_size=3))
def test_search_finds_exactly_the_titles_that_contain_the_query(titles, q):
    entries = [entry(f"p{i}", t) for i, t in enumerate(titles)]
    found = set(Listing.build(entries).search(q))
    assert found == {e.product_id for e in entries if q in e.title}


# -- sorting and filtering -------------------------------------------------------------------

SHELF = [entry("a", "A", 500, "2026-12-01T00:00:00Z", sort_weight=0, sales=3, category_id="c1"),
         entry("b", "B", 100, "2026-12-03T00:00:00Z", sort_weight=0, sales=9, category_id="c2"),
         entry("c", "C", 300, "2026-12-02T00:00:00Z", sort_weight=10, sales=0, category_id="c1"),
         entry("d", "D", 300, "2026-12-04T00:00:00Z", sort_weight=0, sales=9, category_id=None)]


@pytest.mark.parametrize(("sort", "expected"), [
    ("default", ["c", "d", "b", "a"]),      # sort weight first, then newest
    ("newest", ["d", "b", "c", "a"]),
    ("sales", ["d", "b", "a", "c"]),        # equal sales: newest first
    ("price_asc", ["b", "d", "c", "a"]),    # equal price: newest first
    ("price_desc", ["a", "d", "c", "b"]),
])
def test_each_sort(sort, expected):
    assert Listing.build(SHELF).select(sort=sort) == expected


def test_a_category_filter_keeps_only_its_products():
    assert Listing.build(SHELF).select(category_ids={"c1"}) == ["c", "a"]


def test_an_unknown_sort_is_refused():
    with pytest.raises(ValueError):
        Listing.build(SHELF).select(sort="random")


# -- categories ------------------------------------------------------------------------------

CATS = [Category("top", "茶叶", sort_weight=1), Category("green", "绿茶", parent_id="top"),
        Category("red", "红茶", parent_id="top", sort_weight=5), Category("cups", "器具", sort_weight=9)]


def test_the_tree_orders_each_level_by_sort_weight():
    tree = rules.category_tree(CATS)
    assert [c["id"] for c in tree] == ["cups", "top"]
    assert [c["id"] for c in tree[1]["children"]] == ["red", "green"]


def test_a_category_includes_its_children():
    assert rules.with_children(CATS, "top") == {"top", "green", "red"}
    assert rules.with_children(CATS, "red") == {"red"}


def test_two_levels_at_most():
    rules.check_parent(None, None)
    rules.check_parent(CATS[0], "top")
    with pytest.raises(errors.InvalidRequest):
        rules.check_parent(CATS[1], "green")  # green is a child already
    with pytest.raises(errors.NotFound):
        rules.check_parent(None, "missing")
    with pytest.raises(errors.InvalidRequest):
        rules.check_parent(CATS[0], "top", category_id="top")


def test_names_of_gives_the_category_and_its_parent():
    by_id = {c.category_id: c for c in CATS}
    assert rules.names_of(by_id, "red") == ("红茶", "茶叶")
    assert rules.names_of(by_id, "cups") == ("器具",)
    assert rules.names_of(by_id, None) == ()


# -- specs, campaigns, snapshots -----------------------------------------------------------------

def test_the_spec_matrix_keeps_first_seen_order():
    specs = [{"颜色": "红", "尺码": "M"}, {"颜色": "蓝", "尺码": "M"}, {"颜色": "红", "尺码": "L"}, None]
    assert rules.spec_matrix(specs) == [{"name": "颜色", "values": ["红", "蓝"]},
                                        {"name": "尺码", "values": ["M", "L"]}]


def test_campaign_phase():
    now = "2026-12-05T10:00:00Z"
    assert rules.campaign_phase("2026-12-05T09:00:00Z", "2026-12-05T11:00:00Z", now) == "live"
    assert rules.campaign_phase("2026-12-05T10:00:01Z", "2026-12-05T11:00:00Z", now) == "upcoming"
    assert rules.campaign_phase("2026-12-05T09:00:00Z", "2026-12-05T10:00:00Z", now) is None
    assert rules.campaign_phase("2026-12-05T09:00:00Z", "2026-12-05T11:00:00Z", now, stopped=True) is None


def test_a_snapshot_round_trips():
    data = rules.encode_snapshot(TEA, CATS)
    entries, categories = rules.decode_snapshot(data)
    assert categories == CATS
    assert [e.product_id for e in entries] == [e.product_id for e in TEA]
    assert entries[0].tags == TEA[0].tags and entries[0].sales == 5


# -- images ------------------------------------------------------------------------------------

def sign(message: str) -> str:
    return hmac.new(b"k" * 32, message.encode(), hashlib.sha256).hexdigest()


BASE = "https://img.example.com"


def test_an_issued_key_verifies_and_a_forged_one_does_not():
    key = uploads.new_key("ab" * 16, "png", sign)
    url = uploads.image_url(BASE, key)
    assert uploads.issued(url, BASE, sign)
    assert not uploads.issued(url.replace(BASE, "https://evil.example.com"), BASE, sign)
    assert not uploads.issued(url.replace(".png", ".jpg"), BASE, sign)  # the extension is signed too
    forged = uploads.image_url(BASE, uploads.new_key("cd" * 16, "png", lambda m: "0" * 64))
    assert not uploads.issued(forged, BASE, sign)
    assert not uploads.issued(f"{BASE}/img/../secret.png", BASE, sign)
    with pytest.raises(errors.UnknownImage):
        uploads.check_images([url, "https://example.com/a.png"], BASE, sign)


@pytest.mark.parametrize(("content_type", "size"), [
    ("image/gif", 100), ("text/html", 100), ("image/png", 0), ("image/png", 5 * 1024 * 1024 + 1),
    ("image/png", True)])
def test_an_upload_slot_takes_only_images_up_to_5_mb(content_type, size):
    with pytest.raises(errors.InvalidRequest):
        uploads.check_request(content_type, size)


def test_an_upload_slot_of_5_mb_exactly_is_given():
    assert uploads.check_request("image/webp", 5 * 1024 * 1024) == "webp"


# -- the listing and campaigns over the fakes ------------------------------------------------------

class _Versions:
    def __init__(self):
        self.key, self.version = None, 0

    def state(self):
        return self.version, self.key

    def swap(self, expected, new):
        if expected != self.key:
            return False
        self.key, self.version = new, self.version + 1
        return True


class _Blobs(dict):
    def put(self, key, data):
        self[key] = data


class _Categories:
    def __init__(self, categories=()):
        self.items = list(categories)

    def list_all(self):
        return list(self.items)

    def get(self, category_id):
        return next((c for c in self.items if c.category_id == category_id), None)


@pytest.fixture
def shop():
    from layers.services.catalog import CatalogService
    from layers.services.storefront import ListingService
    from tests.fakes.catalog import MemoryCatalogRepository
    from tests.fakes.memory import MemoryStore

    store = MemoryStore()
    catalog = MemoryCatalogRepository(store)

    class Clock:
        @staticmethod
        def now():
            return datetime(2026, 12, 5, 2, 0, tzinfo=UTC)

    now = [0.0]
    listing = ListingService(catalog=catalog, categories=_Categories(CATS), versions=_Versions(), snapshots=_Blobs(),
                             sales=lambda: {}, monotonic=lambda: now[0])
    service = CatalogService(catalog=catalog, new_tx=store.tx, clock=Clock, listing=listing)
    return service, listing, now


def product_body(title, price, active=True, commission=None):
    from functions import schemas

    return schemas.ProductInput.model_validate({"title": title, "skus": [{"price": price, "stock": 5}],
                                                "active": active, "commission": commission})


def test_every_page_but_the_last_is_full_though_products_went_off_sale(shop):
    service, listing, now = shop
    ids = [service.create_product(product_body(f"商品{i:02d}", 100 + i))["id"] for i in range(25)]
    listing.rebuild()
    for pid in ids[3:25:3]:  # off sale after the snapshot: the listing still names them
        service.set_on_sale(pid, False)
    seen, cursor, sizes = [], None, []
    while True:
        page, cursor = service.list_products(5, cursor, sort="price_asc")
        sizes.append(len(page))
        seen += [p["id"] for p in page]
        if cursor is None:
            break
    assert sizes[:-1] == [5] * (len(sizes) - 1)
    assert seen == [pid for pid in ids if pid not in ids[3:25:3]]


def test_a_shopper_sees_no_commission_a_distributor_does(shop):
    service, listing, _ = shop
    pid = service.create_product(product_body("茶具", 500, commission={"mode": "fixed", "rate_bps": 800}))["id"]
    assert "commission" not in service.get_product(pid)
    assert service.get_product(pid, distributor=True)["commission"] == {"mode": "fixed", "rate_bps": 800}
    page, _ = service.list_products(10, None)
    assert all("commission" not in p for p in page)


def test_another_container_sees_a_newer_snapshot_after_its_interval_the_publisher_at_once(shop):
    from layers.services.storefront import ListingService

    service, listing, now = shop
    other = ListingService(catalog=listing.catalog, categories=listing.categories, versions=listing.versions,
                           snapshots=listing.snapshots, sales=lambda: {}, monotonic=lambda: now[0])
    service.create_product(product_body("红茶", 100))
    listing.rebuild()
    assert len(other.select(category_id=None, q="茶", sort="default")) == 1
    service.create_product(product_body("绿茶", 100))
    listing.on_catalog_changed("ev", {"product_id": service.catalog.all_products()[-1].product_id})
    assert len(listing.select(category_id=None, q="茶", sort="default")) == 2  # the publisher: at once
    assert len(other.select(category_id=None, q="茶", sort="default")) == 1  # within refresh_s
    now[0] += 6
    assert len(other.select(category_id=None, q="茶", sort="default")) == 2


def test_a_patch_racing_another_publisher_is_not_lost(shop):
    service, listing, _ = shop
    a = service.create_product(product_body("红茶", 100))["id"]
    b = service.create_product(product_body("绿茶", 100))["id"]
    listing.rebuild()
    versions = listing.versions
    real_swap = versions.swap
    raced = []

    def swap(expected, new):
        if not raced:  # another publisher lands first, with product a taken off the list
            raced.append(True)
            entries, categories = rules.decode_snapshot(listing.snapshots[versions.key])
            listing.snapshots["other"] = rules.encode_snapshot([e for e in entries if e.product_id != a], categories)
            real_swap(versions.key, "other")
        return real_swap(expected, new)

    versions.swap = swap
    service.catalog.store.items[("product", b)] = service.catalog.get_product(b).__class__(
        **{**service.catalog.get_product(b).__dict__, "title": "白茶"})
    listing.on_catalog_changed("ev", {"product_id": b})
    entries, _ = rules.decode_snapshot(listing.snapshots[versions.key])
    titles = {e.product_id: e.title for e in entries}
    assert titles == {b: "白茶"}  # the other publisher's change kept, and this one on top of it


def test_campaigns_live_and_upcoming_in_order_with_their_product():
    from layers.services.storefront import CampaignDirectory

    class Clock:
        @staticmethod
        def now():
            return datetime(2026, 12, 5, 10, 0, tzinfo=UTC)

    views = [{"id": "f1", "sku_id": "s1", "product_id": "p1", "price": 99, "starts_at": "2026-12-05T09:00:00Z",
              "ends_at": "2026-12-05T12:00:00Z", "status": "ACTIVE"},
             {"id": "f2", "sku_id": "s2", "product_id": "p1", "price": 88, "starts_at": "2026-12-05T08:00:00Z",
              "ends_at": "2026-12-05T11:00:00Z", "status": "ACTIVE"},
             {"id": "f3", "sku_id": "s1", "product_id": "p1", "price": 77, "starts_at": "2026-12-06T08:00:00Z",
              "ends_at": "2026-12-06T11:00:00Z", "status": "ACTIVE"},
             {"id": "f4", "sku_id": "s1", "product_id": "p1", "price": 66, "starts_at": "2026-12-05T08:00:00Z",
              "ends_at": "2026-12-05T11:00:00Z", "stopped_at": "2026-12-05T09:30:00Z"},
             {"id": "f5", "sku_id": "s1", "product_id": "p1", "price": 55, "starts_at": "2026-12-04T08:00:00Z",
              "ends_at": "2026-12-05T09:00:00Z", "status": "ACTIVE"}]

    class Product:
        title, images = "大闸蟹", ("https://img/cover.png",)

    class Catalog:
        def get_products(self, ids):
            return {i: Product() for i in ids}

    empty = lambda limit, cursor: ([], None)  # noqa: E731
    directory = CampaignDirectory(listers={"flash_sale": lambda limit, cursor: (views, None), "group_buy": empty,
                                           "bargain": empty, "assist": empty},
                                  catalog=Catalog(), groups=None, clock=Clock)
    live, cursor = directory.campaigns("flash_sale", "live", 1, None)
    assert [v["id"] for v in live] == ["f2"] and live[0]["title"] == "大闸蟹"
    assert live[0]["image"] == "https://img/cover.png"
    more, cursor = directory.campaigns("flash_sale", "live", 5, cursor)
    assert [v["id"] for v in more] == ["f1"] and cursor is None
    assert [v["id"] for v in directory.campaigns("flash_sale", "upcoming", 5, None)[0]] == ["f3"]
    assert directory.on_product({"s1"}) == [{"kind": "flash_sale", "id": "f1", "sku_id": "s1", "price": 99,
                                             "ends_at": "2026-12-05T12:00:00Z"}]
    with pytest.raises(errors.InvalidRequest):
        directory.campaigns("flash_sale", "ended", 5, None)


# -- units sold ----------------------------------------------------------------------------------

def test_units_sold_come_back_only_with_the_refund_that_completes_the_order():
    from layers.domain import analytics

    assert not analytics.completes_refund({"refunded_total": 500, "order_payable": 1000, "amount": 500})
    assert analytics.completes_refund({"refunded_total": 1000, "order_payable": 1000, "amount": 500})
    assert not analytics.completes_refund({"refunded_total": 1000, "order_payable": 1000, "amount": 0})
    assert analytics.completes_refund({"refunded_total": 1000, "order_payable": 1000, "amount": 1000})
    line = analytics.Line("p1", "红茶", 3, 900)
    sale = analytics.Fact("e1", analytics.SALE, "2026-12-05T02:00:00Z", "u1", 900, "o1", (line,))
    refund = analytics.Fact("e2", analytics.REFUND, "2026-12-06T02:00:00Z", "u1", 900, "o1", (line,),
                            paid_at="2026-12-05T02:00:00Z")
    positions = analytics.Positions(1, 1, 1)
    sold = [i for i in analytics.increments(sale, positions) if i.key.kind == analytics.SALES]
    back = [i for i in analytics.increments(refund) if i.key.kind == analytics.SALES]
    assert [(i.key.subject, i.add) for i in sold] == [("p1", {"quantity": 3})]
    assert [(i.key.subject, i.add) for i in back] == [("p1", {"quantity": -3})]
