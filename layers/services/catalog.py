"""Catalog: operators create and change products; shoppers browse them."""

from __future__ import annotations

from typing import Any

from layers.clock import iso
from layers.domain import errors
from layers.domain.catalog import (
    REASON_CREATED,
    REASON_EDITED,
    CatalogRepository,
    Product,
    SettingsRepository,
    Sku,
    StockChange,
    StockEntry,
    content_of,
    shown_to_operators,
    stock_delta,
    stock_status,
)
from layers.domain.storefront import SORTS, spec_matrix

# `body` below is the route's ProductInput (functions/schemas.py), validated there.


def product_view(product: Product, skus: dict[str, Sku], admin: bool = False, *,
                 show_commission: bool | None = None, sales: int | None = None,
                 campaigns: list[dict] | None = None) -> dict:
    """A product as the API shows it. Its commission only to operators and distributors
    (`show_commission`, default: operators); `sales`, `campaigns` where the caller has them."""
    sku_views = []
    for sku_id in product.sku_ids:
        sku = skus.get(sku_id)
        if sku is None or not (sku.active or (admin and shown_to_operators(product, sku))):
            continue
        view = {"id": sku.sku_id, "price": sku.price, "list_price": sku.list_price, "weight_g": sku.weight_g,
                "stock_status": stock_status(sku.stock), "spec": sku.spec}
        if admin:
            view["stock"] = sku.stock
        sku_views.append(view)
    prices = [v["price"] for v in sku_views]
    view = {
        "id": product.product_id,
        "title": product.title,
        "category": product.category,
        "category_id": product.category_id,
        "price": min(prices) if prices else None,
        "image": product.images[0] if product.images else None,
        "images": list(product.images),
        "description": product.description,
        "detail_images": list(product.detail_images),
        "tags": list(product.tags),
        "sort_weight": product.sort_weight,
        "freight_template_id": product.freight_template_id,
        "specs": spec_matrix([v["spec"] for v in sku_views]),
        "skus": sku_views,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }
    if show_commission if show_commission is not None else admin:
        view["commission"] = product.commission
    if sales is not None:
        view["sales"] = sales
    if campaigns is not None:
        view["campaigns"] = campaigns
    if admin:
        view["active"] = product.active
    return view


class CatalogService:
    def __init__(self, *, catalog: CatalogRepository, new_tx, clock, categories=None, images=None,
                 listing=None, campaigns=None, outbox=None, publisher=None, freight=None):
        """The storefront's collaborators are optional (a service without them writes and shows
        products without content checks, listing, sales or campaigns): `categories` (the
        category repository), `images` (`check(urls)`), `listing` (ListingService),
        `campaigns` (CampaignDirectory), `outbox` and `publisher` (`catalog.changed`), `freight`
        (the freight template repository: a product names only a template that exists)."""
        self.catalog = catalog
        self.new_tx = new_tx
        self.clock = clock
        self.categories = categories
        self.images = images
        self.listing = listing
        self.campaigns = campaigns
        self.outbox = outbox
        self.publisher = publisher
        self.freight = freight

    def create_product(self, body: Any) -> dict:
        now = iso(self.clock.now())
        product_id = self.catalog.new_id("p")
        return self._write_product(product_id, body, now, created_at=now, existing=None)

    def update_product(self, product_id: str, body: Any) -> dict:
        existing = self.catalog.get_product(product_id)
        if existing is None:
            raise errors.NotFound("no such product")
        return self._write_product(product_id, body, iso(self.clock.now()), created_at=existing.created_at,
                                   existing=existing)

    def _write_product(self, product_id: str, body: Any, now: str, created_at: str,
                       existing: Product | None) -> dict:
        from layers.domain.catalog import TX_MAX_ITEMS, edit_batches, sku_write_needed

        known = set(existing.sku_ids) if existing else set()
        for sku in body.skus:
            if sku.id is not None and sku.id not in known:
                raise errors.InvalidRequest(f"sku {sku.id} is not a SKU of this product")
        current = self.catalog.get_skus(list(existing.sku_ids)) if existing else {}
        commission = body.commission.model_dump() if body.commission else None
        if commission and commission.get("rate_bps") is not None:
            from layers.domain.commission import check_rate_cap

            check_rate_cap([int(commission["rate_bps"])], self.catalog.load_settings(fresh=True).max_commission_bps)
        content = content_of(body)
        if self.images is not None:
            self.images.check([*content["images"], *content["detail_images"]])
        category = body.category
        category_ids: tuple[str, ...] = ()
        if content["category_id"] and self.categories is not None:
            named = self.categories.get(content["category_id"])
            if named is None:
                raise errors.NotFound("no such category")
            category = category or named.name
            category_ids = tuple(c for c in (named.category_id, named.parent_id) if c)
        freight_template_id = getattr(body, "freight_template_id", None)
        if freight_template_id and self.freight is not None and self.freight.get(freight_template_id) is None:
            # Templates are never deleted (there is no DELETE), so one read here suffices:
            # a template that exists now still exists when the product is written.
            raise errors.UnknownFreightTemplate(f"no freight template {freight_template_id}",
                                                freight_template_id=freight_template_id)
        sku_ids, puts = [], []
        for sku in body.skus:
            sku_id = sku.id or self.catalog.new_id("s")
            sku_ids.append(sku_id)
            change = _stock_change(sku)
            new = Sku(sku_id=sku_id, product_id=product_id, title=body.title, category=category,
                      price=sku.price, stock=sku.stock or 0, commission=commission, active=body.active, spec=sku.spec,
                      list_price=getattr(sku, "list_price", None), weight_g=getattr(sku, "weight_g", None),
                      freight_template_id=freight_template_id, category_ids=category_ids)
            if sku_write_needed(current.get(sku_id), new, change):
                puts.append((new, change))
        # SKUs left out of an update are retired, not deleted: open orders still name them.
        # One retired already is not written again.
        retires = []
        for old in [i for i in existing.sku_ids if i not in set(sku_ids)] if existing else []:
            sku_ids.append(old)
            if old in current and not current[old].retired:
                retires.append(old)
        puts.sort(key=lambda p: stock_delta(p[1]) is None and p[1].expected is None)  # stock moves first
        product = Product(product_id=product_id, title=body.title, category=category,
                          sku_ids=tuple(sku_ids), commission=commission, created_at=created_at,
                          updated_at=now, active=body.active, price_min=min(s.price for s in body.skus),
                          freight_template_id=freight_template_id, **content)
        # The last transaction also carries the product, the category counts and the event.
        batches = edit_batches(puts, retires, room=TX_MAX_ITEMS - 5)
        event = None
        for n, (batch_puts, batch_retires) in enumerate(batches):
            tx = self.new_tx()
            moves = {}
            for sku, change in batch_puts:
                self.catalog.stage_put_sku(tx, sku, change)
                delta = stock_delta(change)  # every operator's move of stock has its entry
                if delta is not None:
                    moves[sku.sku_id] = delta
            for sku_id in batch_retires:
                self.catalog.stage_retire_sku(tx, sku_id)
            if moves:
                self._stage_entry(tx, product_id, moves, REASON_EDITED if existing else REASON_CREATED, now, None)
            if n == len(batches) - 1:  # the product last: it names SKUs that exist by then
                self.catalog.stage_put_product(tx, product)
                self._stage_category_counts(tx, existing, content["category_id"])
                event = self._stage_changed(tx, product_id, now)
            tx.commit()
        self._publish(event, now)
        return product_view(product, self.catalog.get_skus(sku_ids), admin=True)

    def _stage_category_counts(self, tx, existing: Product | None, category_id: str | None) -> None:
        """Counted in the product's transaction: a category in use cannot be deleted meanwhile."""
        before = existing.category_id if existing else None
        if self.categories is None or before == category_id:
            return
        if category_id:
            self.categories.stage_count(tx, category_id, products=1)
        if before:
            self.categories.stage_count(tx, before, products=-1)

    def _stage_changed(self, tx, product_id: str, now: str):
        """`catalog.changed` for the listing, in the product's own transaction."""
        if self.outbox is None:
            return None
        from layers.services.storefront import changed_event

        return changed_event(self.outbox, tx, now, self.catalog.new_id("ev"), product_id=product_id)

    def _publish(self, event, now: str) -> None:
        from layers.services.storefront import publish_change

        publish_change(self.publisher, self.listing, event, now)

    def get_product(self, product_id: str, distributor: bool = False) -> dict:
        """A shopper's product page: with its sales and the live campaigns on its SKUs;
        its commission only for a distributor."""
        product = self.catalog.get_product(product_id)
        if product is None or not product.active:
            raise errors.NotFound("no such product")
        skus = self.catalog.get_skus(list(product.sku_ids))
        on_sale = {i for i in product.sku_ids if i in skus and skus[i].active}
        return product_view(product, skus, show_commission=distributor,
                            sales=self.listing.sales_of(product_id) if self.listing is not None else None,
                            campaigns=self.campaigns.on_product(on_sale) if self.campaigns is not None else None)

    def list_products(self, limit: int, cursor: dict | None, *, category_id: str | None = None,
                      q: str | None = None, sort: str = "default",
                      distributor: bool = False) -> tuple[list[dict], dict | None]:
        """A page of on-sale products: filtered, searched and sorted on the listing, then read
        fresh (prices, stock). Every page but the last is full: a product taken off sale since
        the listing was published is skipped and the page filled from the next ones."""
        if sort not in SORTS:
            raise errors.InvalidRequest(f"sort: one of {', '.join(SORTS)}")
        if self.listing is None:  # a service without the storefront: newest first
            products, next_cursor = self.catalog.list_products(limit, cursor)
            skus = self.catalog.get_skus([s for p in products for s in p.sku_ids])
            return [product_view(p, skus, show_commission=distributor) for p in products], next_cursor
        ids = self.listing.select(category_id=category_id, q=(q or "").strip() or None, sort=sort)
        position = int((cursor or {}).get("o", 0))
        page: list[Product] = []
        while len(page) < limit and position < len(ids):
            chunk = ids[position:position + limit - len(page)]
            found = self.catalog.get_products(chunk)
            for pid in chunk:
                position += 1
                if (p := found.get(pid)) is not None and p.active:
                    page.append(p)
        skus = self.catalog.get_skus([s for p in page for s in p.sku_ids])
        views = [product_view(p, skus, show_commission=distributor, sales=self.listing.sales_of(p.product_id))
                 for p in page]
        return views, ({"o": position} if position < len(ids) else None)

    # -- what the console needs --
    def list_products_admin(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """As list_products, with each SKU's stock (the operators' view)."""
        products, next_cursor = self.catalog.list_products(limit, cursor)
        skus = self.catalog.get_skus([s for p in products for s in p.sku_ids])
        return [product_view(p, skus, admin=True) for p in products], next_cursor

    def list_all_products(self, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """Every product, on sale or off, with each SKU's stock (the console's list)."""
        products, next_cursor = self.catalog.list_all_products(limit, cursor)
        skus = self.catalog.get_skus([s for p in products for s in p.sku_ids])
        return [product_view(p, skus, admin=True) for p in products], next_cursor

    def search_skus(self, text: str, limit: int = 20, scan: int = 500) -> list[dict]:
        """SKUs whose product title contains `text` (any case; blank: the newest), newest
        products first, each `{"id", "product_id", "title", "spec", "price", "stock", "active"}`:
        the console's product picker. No title index: it reads at most `scan` products, as
        a shop's catalogue is hundreds, not millions."""
        needle = (text or "").strip().casefold()
        found, cursor, read = [], None, 0
        while len(found) < limit and read < scan:
            products, cursor = self.list_all_products(50, cursor)
            read += len(products)
            for p in products:
                if needle and needle not in (p["title"] or "").casefold():
                    continue
                found += [{"id": s["id"], "product_id": p["id"], "title": p["title"], "spec": s.get("spec") or {},
                           "price": s["price"], "stock": s.get("stock"), "active": p.get("active", True)}
                          for s in p["skus"]]
            if cursor is None:
                break
        return found[:limit]

    def get_product_admin(self, product_id: str) -> dict:
        """One product, on sale or off, with its SKUs' stock."""
        product = self.catalog.get_product(product_id)
        if product is None:
            raise errors.NotFound("no such product")
        return product_view(product, self.catalog.get_skus(list(product.sku_ids)), admin=True)

    def set_on_sale(self, product_id: str, on_sale: bool) -> dict:
        """Put a product on sale, or take it off: the product and its SKUs (not the retired
        ones) in one transaction, conditioned on the product being as read. Off sale, the
        mini-program lists it no more and an order for its SKUs is refused."""
        from layers.domain.catalog import retired_sku_ids, set_on_sale

        class _Stale(Exception):
            pass

        for _ in range(3):
            product = self.catalog.get_product(product_id)
            if product is None:
                raise errors.NotFound("no such product")
            after = set_on_sale(product, on_sale, iso(self.clock.now()))
            skus = self.catalog.get_skus(list(product.sku_ids))
            if after == product:
                return product_view(product, skus, admin=True)
            retired = retired_sku_ids(product, skus)
            tx = self.new_tx()
            self.catalog.stage_set_on_sale(tx, product, after, [i for i in product.sku_ids if i not in retired],
                                           on_stale=_Stale)
            for sku_id in sorted(retired & set(skus)):
                if not skus[sku_id].retired:  # inactive before the mark existed: mark it now
                    self.catalog.stage_retire_sku(tx, sku_id)
            event = self._stage_changed(tx, product_id, after.updated_at)
            try:
                tx.commit()
            except _Stale:
                continue  # edited meanwhile: read again
            self._publish(event, after.updated_at)
            return product_view(after, self.catalog.get_skus(list(after.sku_ids)), admin=True)
        raise errors.InvalidState("the product keeps changing; try again")

    def adjust_stock(self, sku_id: str, delta: int, reason: str, by: str | None = None) -> dict:
        """Add `delta` to a SKU's stock (negative takes), for `reason`, with its ledger entry
        in the same transaction; 409 when it would go below zero, 404 for no such SKU.
        Returns `{"id", "stock", "delta", "reason"}`."""
        from layers.domain.catalog import check_stock_adjustment

        reason = check_stock_adjustment(delta, reason)
        known = self.catalog.get_skus([sku_id]).get(sku_id)
        if known is None:
            raise errors.NotFound("no such sku")
        tx = self.new_tx()
        self.catalog.stage_adjust_stock(tx, sku_id, delta, on_short=lambda: errors.InvalidState(
            "not enough stock to take that many"))
        self._stage_entry(tx, known.product_id, {sku_id: delta}, reason, iso(self.clock.now()), by)
        tx.commit()
        sku = self.catalog.get_skus([sku_id])[sku_id]
        return {"id": sku_id, "stock": sku.stock, "delta": delta, "reason": reason}
    def stock_entries(self, product_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        """The product's ledger of operators' stock moves, newest first."""
        if self.catalog.get_product(product_id) is None:
            raise errors.NotFound("no such product")
        entries, next_cursor = self.catalog.stock_entries(product_id, limit, cursor)
        return [{"id": e.entry_id, "product_id": e.product_id, "moves": dict(e.moves), "reason": e.reason,
                 "at": e.at, "by": e.by} for e in entries], next_cursor

    def _stage_entry(self, tx, product_id: str, moves: dict[str, int], reason: str, at: str, by: str | None) -> None:
        self.catalog.stage_stock_entry(tx, StockEntry(product_id=product_id, entry_id=self.catalog.new_id("se"),
                                                      moves=moves, reason=reason, at=at, by=by))


def _stock_change(sku: Any) -> StockChange:
    """A new SKU gets its `stock`; an existing one moves by `stock_delta`, or
    is set to `stock` only while it is still `expected_stock` (the stock the operator
    saw). `stock` alone on an existing SKU asserts it is still that (a price edit that
    sends back the stock shown): it changes nothing, and is 409 STOCK_CHANGED if orders
    moved it since."""
    if sku.id is None:
        return StockChange(set_to=sku.stock)
    if sku.stock_delta is not None:
        return StockChange(delta=sku.stock_delta)
    if sku.stock is None:
        return StockChange()
    expected = sku.expected_stock if sku.expected_stock is not None else sku.stock
    return StockChange(set_to=sku.stock, expected=expected)


class ShopSettingsService:
    """The shop's rules (GET/PUT /admin/settings). `templates` (optional) finds a
    commission template (`get_template(id)`): `distributor_template_id` must name one."""

    def __init__(self, *, settings: SettingsRepository, clock, templates=None):
        self.settings = settings
        self.clock = clock
        self.templates = templates

    def get(self) -> dict:
        return self.settings.load_settings(fresh=True).model_dump()

    def update(self, partial: dict) -> dict:
        """A partial body changes only the rules it names."""
        current = self.settings.load_settings(fresh=True).model_dump()
        from layers.domain.shop_settings import ShopSettings

        merged = ShopSettings.model_validate({**current, **partial})
        self._check_recruitment(merged)
        self.settings.save_settings(merged, iso(self.clock.now()))
        return merged.model_dump()

    def _check_recruitment(self, merged) -> None:
        """The default template names a template; open
        recruitment approves at once, so it needs one to give."""
        template_id = merged.distributor_template_id
        if template_id and self.templates is not None and self.templates.get_template(template_id) is None:
            raise errors.UnknownTemplate("distributor_template_id: no such commission template")
        if merged.distributor_recruitment == "open" and not template_id:
            raise errors.NoTemplate("open recruitment approves at once: set distributor_template_id too")
