"""The storefront: categories, the product listing and search, campaigns a shopper can find,
and image uploads.

The listing (layers/domain/storefront.py) is a snapshot of every on-sale product's listing
entry, kept as one gzipped object in the code bucket and named by one small item in the
table (`snapshots` and `versions`). Each container holds the snapshot it last loaded and
asks the table at most every `refresh_s` whether a newer one was published; only then does
it fetch the object. So a listing request is in-memory work plus the fresh read of the page's
own products (their SKUs' prices and stock), and no request scans the catalog.

Snapshots are published by compare-and-swap on the item (`versions.swap`): a product or
category written emits `catalog.changed`, whose consumer patches that one product into the
newest snapshot (re-reading it, so a late or repeated event only ever writes the current
state); the `rebuild-listing` job rebuilds it whole on a schedule, which also brings in the
sales figures the analytics consumer keeps. Two publishers racing never lose each other's
change: the loser's swap fails and it patches the newer snapshot.

A shop whose snapshot was never built (a new shop, or the bucket unreachable) is listed from a
snapshot built in the container from the table itself, kept for `refresh_s`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from layers.clock import iso
from layers.domain import errors
from layers.domain import storefront as rules
from layers.domain import uploads as upload_rules
from layers.domain.catalog import Product
from layers.domain.storefront import Category, Entry, Listing
from layers.observability import logger

CAMPAIGN_KINDS = ("flash_sale", "group_buy", "bargain", "assist")
CAMPAIGNS_READ = 200  # the newest campaigns of a kind that the shopper lists are taken from


def entry_of(product: Product, sales: int, categories: dict[str, Category]) -> Entry | None:
    """A product's listing entry; None when it is not on sale or has no price."""
    if not product.active or product.price_min is None:
        return None
    return Entry(product_id=product.product_id, title=product.title, price=product.price_min,
                 created_at=product.created_at, sort_weight=product.sort_weight, sales=sales, tags=product.tags,
                 category_id=product.category_id,
                 category_names=rules.names_of(categories, product.category_id) or
                 ((product.category,) if product.category else ()))


class _Loaded:
    __slots__ = ("key", "listing", "categories", "checked", "sales")

    def __init__(self, key: str | None, listing: Listing, categories: list[Category], checked: float):
        self.key, self.listing, self.categories, self.checked = key, listing, categories, checked
        self.sales = {pid: e.sales for pid, e in listing.entries.items()}


class ListingService:
    def __init__(self, *, catalog, categories, versions, snapshots, sales: Callable[[], dict[str, int]],
                 refresh_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic):
        """`catalog`: `all_products()`, `get_product(id)`; `categories`: `list_all()`;
        `versions`: `state() -> (version, key)`, `swap(expected_key, new_key) -> bool`;
        `snapshots`: `get(key) -> bytes | None`, `put(key, bytes)`; `sales`: units sold by
        product id."""
        self.catalog = catalog
        self.categories = categories
        self.versions = versions
        self.snapshots = snapshots
        self.sales = sales
        self.refresh_s = refresh_s
        self.monotonic = monotonic
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # -- reading --------------------------------------------------------------------------------

    def loaded(self) -> _Loaded:
        """The newest listing this container knows, asking the table at most every `refresh_s`."""
        now = self.monotonic()
        current = self._loaded
        if current is not None and now - current.checked < self.refresh_s:
            return current
        with self._lock:  # one thread of a container refreshes; the others wait for it
            current = self._loaded
            if current is not None and self.monotonic() - current.checked < self.refresh_s:
                return current
            _, key = self.versions.state()
            if current is not None and key is not None and key == current.key:
                current.checked = self.monotonic()
                return current
            fresh = self._fetch(key) if key else None
            if fresh is None:
                entries, categories = self._from_table()
                fresh = _Loaded(None, Listing.build(entries), categories, self.monotonic())
            self._loaded = fresh
            return fresh

    def _fetch(self, key: str) -> _Loaded | None:
        data = self.snapshots.get(key)
        if data is None:
            logger.warning("listing snapshot missing: listing from the table", extra={"key": key})
            return None
        entries, categories = rules.decode_snapshot(data)
        return _Loaded(key, Listing.build(entries), categories, self.monotonic())

    def _from_table(self) -> tuple[list[Entry], list[Category]]:
        categories = self.categories.list_all()
        by_id = {c.category_id: c for c in categories}
        sales = self.sales()
        entries = [e for p in self.catalog.all_products()
                   if (e := entry_of(p, int(sales.get(p.product_id, 0)), by_id)) is not None]
        return entries, categories

    def select(self, *, category_id: str | None, q: str | None, sort: str) -> list[str]:
        loaded = self.loaded()
        category_ids = None
        if category_id:
            if not any(c.category_id == category_id for c in loaded.categories):
                return []
            category_ids = rules.with_children(loaded.categories, category_id)
        return loaded.listing.select(category_ids=category_ids, q=q, sort=sort)

    def sales_of(self, product_id: str) -> int:
        return int(self.loaded().sales.get(product_id, 0))

    # -- publishing -----------------------------------------------------------------------------

    def rebuild(self) -> dict:
        """The whole listing again from the table (products, categories, sales), published."""
        started = time.monotonic()
        for _ in range(5):
            _, key = self.versions.state()
            entries, categories = self._from_table()
            if self._publish(key, entries, categories):
                return {"products": len(entries), "seconds": round(time.monotonic() - started, 3)}
        raise errors.RateLimited("the listing keeps changing; the next run rebuilds it")

    def on_catalog_changed(self, event_id: str, payload: dict) -> None:
        """`catalog.changed`: the product (or the categories) as they are now, into the newest snapshot."""
        for _ in range(10):
            _, key = self.versions.state()
            data = self.snapshots.get(key) if key else None
            if data is None:
                self.rebuild()
                return
            entries, categories = rules.decode_snapshot(data)
            if payload.get("product_id"):
                product = self.catalog.get_product(payload["product_id"])
                old = {e.product_id: e for e in entries}
                sales = old[product.product_id].sales if product and product.product_id in old else 0
                by_id = {c.category_id: c for c in categories}
                entries = [e for e in entries if e.product_id != payload["product_id"]]
                if product is not None and (e := entry_of(product, sales, by_id)) is not None:
                    entries.append(e)
            if payload.get("categories"):
                categories = self.categories.list_all()
            if self._publish(key, entries, categories):
                return
        raise errors.RateLimited("the listing keeps changing; the event is retried")

    def _publish(self, expected_key: str | None, entries: list[Entry], categories: list[Category]) -> bool:
        key = f"catalog/listing-{int(time.time())}-{secrets.token_hex(6)}.json.gz"
        self.snapshots.put(key, rules.encode_snapshot(entries, categories))
        if not self.versions.swap(expected_key, key):
            return False
        self._loaded = None  # this container reads its own publication at once
        logger.info("listing published", extra={"key": key, "products": len(entries)})
        return True


class CategoryService:
    def __init__(self, *, categories, outbox, publisher, images, clock, new_tx, new_id: Callable[[str], str],
                 listing: ListingService | None = None):
        """`images`: `check(urls)` (UnknownImage for one the shop did not issue);
        `outbox`: stages `catalog.changed` in the same transaction; `publisher` sends it after."""
        self.categories = categories
        self.outbox = outbox
        self.publisher = publisher
        self.listing = listing
        self.images = images
        self.clock = clock
        self.new_tx = new_tx
        self.new_id = new_id

    def tree(self) -> dict:
        return {"items": rules.category_tree(self.categories.list_all())}

    def create(self, body: Any) -> dict:
        return self._write(None, body)

    def update(self, category_id: str, body: Any) -> dict:
        return self._write(category_id, body)

    def _write(self, category_id: str | None, body: Any) -> dict:
        existing = self.categories.get(category_id) if category_id else None
        if category_id and existing is None:
            raise errors.NotFound("no such category")
        parent = self.categories.get(body.parent_id) if body.parent_id else None
        rules.check_parent(parent, body.parent_id, category_id)
        if existing is not None and body.parent_id and any(
                c.parent_id == category_id for c in self.categories.list_all()):
            raise errors.InvalidRequest("a category with children stays at the top level")
        self.images.check([body.image_url] if body.image_url else [])
        now = iso(self.clock.now())
        category = Category(category_id=category_id or self.new_id("c"), name=body.name.strip(),
                            parent_id=body.parent_id, sort_weight=body.sort_weight or 0,
                            image_url=body.image_url, created_at=existing.created_at if existing else now)
        tx = self.new_tx()
        self.categories.stage_put(tx, category, create=existing is None)
        before = existing.parent_id if existing else None
        if before != category.parent_id:
            if category.parent_id:
                self.categories.stage_count(tx, category.parent_id, children=1)
            if before:
                self.categories.stage_count(tx, before, children=-1)
        event = changed_event(self.outbox, tx, now, self.new_id("ev"), categories=True)
        tx.commit()
        publish_change(self.publisher, self.listing, event, now)
        return rules.category_tree([category])[0] if not category.parent_id else {
            "id": category.category_id, "name": category.name, "sort_weight": category.sort_weight,
            "image_url": category.image_url, "parent_id": category.parent_id}

    def delete(self, category_id: str) -> None:
        existing = self.categories.get(category_id)
        if existing is None:
            raise errors.NotFound("no such category")
        tx = self.new_tx()
        self.categories.stage_delete(tx, category_id)
        if existing.parent_id:
            self.categories.stage_count(tx, existing.parent_id, children=-1)
        now = iso(self.clock.now())
        event = changed_event(self.outbox, tx, now, self.new_id("ev"), categories=True)
        tx.commit()
        publish_change(self.publisher, self.listing, event, now)


def publish_change(publisher, listing: ListingService | None, event, now: str) -> None:
    """A committed `catalog.changed` to its queue, and the listing patched here and now: the
    operator who saved finds the change at once (other containers within the listing's
    refresh). The patch is best effort; the event's consumer does it again if it failed."""
    if event is None:
        return
    if publisher is not None:
        publisher.publish_written(event, now)
    if listing is not None:
        try:
            listing.on_catalog_changed(event.event_id, event.payload)
        except Exception:  # noqa: BLE001 - the catalog.changed consumer publishes it
            logger.warning("listing not patched at once; its event will", extra={"event_id": event.event_id})


def changed_event(outbox, tx, now: str, subject_id: str, **payload):
    """`catalog.changed`, staged in the transaction of the change: the listing's publisher
    consumes it (ListingService.on_catalog_changed)."""
    from layers.domain.order import Event

    event = Event("catalog.changed", subject_id, payload)
    outbox.stage(tx, event, now)
    return event


class ImageService:
    """Upload slots, and the check that an image URL is one the shop issued."""

    def __init__(self, *, uploads, base_url: str | None, sign: Callable[[str], str]):
        """`uploads`: `presigned_post(key, content_type, size) -> {"url", "fields"}`."""
        self.uploads = uploads
        self.base_url = base_url
        self.sign = sign

    def new_upload(self, content_type: str, size: int) -> dict:
        ext = upload_rules.check_request(content_type, size)
        if not self.base_url:
            raise errors.UpstreamUnavailable("image uploads are not configured (IMAGE_BUCKET)")
        key = upload_rules.new_key(secrets.token_hex(16), ext, self.sign)
        return {"upload": self.uploads.presigned_post(key, content_type, size),
                "image_url": upload_rules.image_url(self.base_url, key), "max_bytes": upload_rules.MAX_BYTES}

    def check(self, urls) -> None:
        upload_rules.check_images(list(urls or ()), self.base_url or "", self.sign)


class CampaignDirectory:
    """The live and upcoming campaigns a shopper can join, and the live ones on a product."""

    def __init__(self, *, listers: dict[str, Callable], catalog, groups, clock, refresh_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic):
        """`listers`: kind -> `(limit, cursor) -> (views, cursor)`, newest first (each
        campaign service's own list); `catalog`: `get_products(ids)`; `groups`: the group
        repository (`joinable_groups`)."""
        self.listers = listers
        self.catalog = catalog
        self.groups = groups
        self.clock = clock
        self.refresh_s = refresh_s
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, list[dict]]] = {}

    def _recent(self, kind: str) -> list[dict]:
        hit = self._cache.get(kind)
        if hit is not None and self.monotonic() - hit[0] < self.refresh_s:
            return hit[1]
        views, cursor = [], None
        while len(views) < CAMPAIGNS_READ:
            page, cursor = self.listers[kind](min(100, CAMPAIGNS_READ - len(views)), cursor)
            views.extend(page)
            if not cursor:
                break
        self._cache[kind] = (self.monotonic(), views)
        return views

    def _phase(self, view: dict, now: str) -> str | None:
        stopped = bool(view.get("stopped_at")) or view.get("status") in ("STOPPED", "CANCELLED")
        return rules.campaign_phase(view["starts_at"], view["ends_at"], now, stopped)

    def campaigns(self, kind: str, status: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        if kind not in CAMPAIGN_KINDS:
            raise errors.NotFound("no such campaign kind")
        if status not in ("live", "upcoming"):
            raise errors.InvalidRequest("status: live or upcoming")
        now = iso(self.clock.now())
        chosen = [v for v in self._recent(kind) if self._phase(v, now) == status]
        # Live ones ending soonest first (what a shopper must not miss); upcoming, starting soonest.
        chosen.sort(key=lambda v: (v["ends_at"] if status == "live" else v["starts_at"], v["id"]))
        offset = int((cursor or {}).get("o", 0))
        page = chosen[offset:offset + limit]
        products = self.catalog.get_products(sorted({v["product_id"] for v in page if v.get("product_id")}))
        out = []
        for v in page:
            p = products.get(v.get("product_id"))
            view = {k: val for k, val in v.items() if k != "commission"}
            view["kind"] = kind
            view["title"] = p.title if p else v.get("title") or v.get("name")
            view["image"] = p.images[0] if p and p.images else None
            out.append(view)
        more = offset + limit < len(chosen)
        return out, ({"o": offset + limit} if more else None)

    def on_product(self, sku_ids: set[str]) -> list[dict]:
        """The live flash sales, group buys and bargains on these SKUs, with their prices."""
        now = iso(self.clock.now())
        found = []
        for kind in ("flash_sale", "group_buy", "bargain"):
            for v in self._recent(kind):
                if v.get("sku_id") in sku_ids and self._phase(v, now) == "live":
                    price = v["floor_price"] if kind == "bargain" else v["price"]
                    found.append({"kind": kind, "id": v["id"], "sku_id": v["sku_id"], "price": price,
                                  "ends_at": v["ends_at"]})
        return sorted(found, key=lambda c: (c["ends_at"], c["kind"], c["id"]))

    def open_groups(self, group_buy_id: str, group_view: Callable, limit: int,
                    cursor: dict | None) -> tuple[list[dict], dict | None]:
        """The activity's OPEN groups with seats left, soonest to expire first (拼团广场), from
        the index of open groups by expiry; full pages are made by reading on past groups
        whose every seat is held (by unpaid orders) or that just expired."""
        now = iso(self.clock.now())
        out: list[dict] = []
        key = cursor
        for _ in range(20):  # bounded: at most 20 index pages per shopper page
            # Never read past what the page can hold, so the cursor never skips a group.
            groups, key = self.groups.joinable_groups(group_buy_id, limit - len(out), key)
            for g in groups:
                if str(g.status) == "OPEN" and g.seats_left > 0 and (g.expires_at or "") > now:
                    view = group_view(g)
                    out.append({"id": view["id"], "seats_left": view["seats_left"], "expires_at": view["expires_at"],
                                "group_size": view["group_size"], "members": view["members"]})
            if len(out) >= limit or not key:
                break
        return out, key
