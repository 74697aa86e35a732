"""The promotion pool (推广商品池) and what a guide would earn on its products.

The rules live in layers/domain/distribution_pool.py (what may be shared) and
layers/domain/commission.py (`line_commission`, the same function an order's lines are
accrued with). Decisions:
- `my_commission` is on ONE unit at the SKU's current price, before any discount, at the
  caller's tier now (the tier their sales reached so far, as the next order accrues);
  what an order really earns is on its line's `paid`, so it can be lower.
- The SKU's own copy of the product's commission setting is used, as an order does.
- A page of the guide's list costs a bounded number of calls whatever the pool: 3 reads
  for the caller (profile, template, totals), the pool (memoised), at most ROUNDS batch
  reads of products and one batch read of SKUs per 100.
"""

from __future__ import annotations

from typing import Any

from layers.clock import iso
from layers.domain import commission as rules
from layers.domain import distribution_pool as pools
from layers.domain import errors
from layers.domain.catalog import Product, Sku, stock_status
from layers.domain.commission_entry import Stats

# A list page skips products taken off sale; it reads at most this many batches of them
# and then answers a short page with a cursor rather than read on without bound.
ROUNDS = 4
TITLE_BATCH = 100
MAX_NAMED_MISSING = 5
ATTEMPTS = 10


class DistributionPoolService:
    """`pool`: layers.domain.distribution_pool.PoolRepository; `catalog`: products and
    SKUs (`get_products`, `get_skus`, `list_products`); `distributors` and `commissions`:
    the distribution repositories (a guide's template and totals)."""

    def __init__(self, *, pool: pools.PoolRepository, catalog, distributors, commissions, clock):
        self.pool = pool
        self.catalog = catalog
        self.distributors = distributors
        self.commissions = commissions
        self.clock = clock

    # -- operators -------------------------------------------------------------------------------

    def get_pool(self) -> dict:
        pool = self.pool.get(fresh=True) or pools.EVERYTHING
        return self._view(pool, self._products(list(pool.product_ids)))

    def set_pool(self, body: Any) -> dict:
        """`body`: the route's DistributionPoolInput (`all` true, or `product_ids`)."""
        if body.all:
            return self._change(lambda current: (True, ()))
        ids = pools.chosen(list(body.product_ids or ()))
        return self._change(lambda current: (False, ids))

    def add_product(self, product_id: str) -> dict:
        """The console's "add": the pool's list with one more product (from "all", a list of one)."""
        return self._change(lambda current: (False, pools.chosen(
            [*(() if current.all else current.product_ids), product_id])))

    def remove_product(self, product_id: str) -> dict:
        def without(current: pools.Pool):
            if current.all:
                raise errors.InvalidRequest("the pool is every product: choose products first")
            return False, tuple(i for i in current.product_ids if i != product_id)

        return self._change(without)

    def _change(self, decide) -> dict:
        """Write what `decide(current pool)` -> (all, product_ids) says, conditioned on the
        version it was decided from; a concurrent change makes it read and decide again."""
        for _ in range(ATTEMPTS):
            current = self.pool.get(fresh=True)
            everything, ids = decide(current or pools.EVERYTHING)
            found = self._products(list(ids))
            kept = set() if current is None or current.all else set(current.product_ids)
            missing = [i for i in ids if i not in found and i not in kept]  # only a new one must exist
            if missing:
                named = ", ".join(missing[:MAX_NAMED_MISSING]) + (" ..." if len(missing) > MAX_NAMED_MISSING else "")
                raise errors.NotFound(f"no such product: {named}", product_ids=missing[:MAX_NAMED_MISSING])
            pool = pools.succeeding(current, all=everything, product_ids=ids, updated_at=iso(self.clock.now()))
            try:
                self.pool.put(pool, on_stale=_Stale)
            except _Stale:
                continue
            return self._view(pool, found)
        raise errors.RateLimited("the promotion pool kept changing: try again")

    def _products(self, ids: list[str]) -> dict[str, Product]:
        found: dict[str, Product] = {}
        for start in range(0, len(ids), TITLE_BATCH):
            found.update(self.catalog.get_products(ids[start:start + TITLE_BATCH]))
        return found

    @staticmethod
    def _view(pool: pools.Pool, found: dict[str, Product]) -> dict:
        products = [{"id": i, "title": found[i].title if i in found else None,
                     "active": bool(found[i].active) if i in found else False} for i in pool.product_ids]
        return {"all": pool.all, "product_ids": list(pool.product_ids), "products": products,
                "updated_at": pool.updated_at}

    # -- shares ----------------------------------------------------------------------------------

    def check_share(self, product_id: str | None) -> None:
        """422 NOT_IN_POOL for a product the guides may not promote (DistributionService
        asks before it stores a share)."""
        if product_id is not None:
            pools.check_share(self.pool.get() or pools.EVERYTHING, product_id)

    # -- a guide's list --------------------------------------------------------------------------

    def my_products(self, user_id: str, limit: int, cursor: dict | None) -> tuple[list[dict], dict | None]:
        d = self.distributors.get(user_id)
        if d is None:
            raise errors.Forbidden("the caller is not a distributor")
        template = self.distributors.get_template(d.template_id)
        stats = self.commissions.stats(user_id) or Stats()
        tier = rules.choose_tier(rules.tiers_from(list(template.tiers)) if template else [],
                                 stats.sales_count, stats.sales_amount)
        pool = self.pool.get() or pools.EVERYTHING
        products, next_cursor = (self._all_page(limit, cursor) if pool.all
                                 else self._listed_page(pool.product_ids, limit, cursor))
        skus = self.catalog.get_skus([s for p in products for s in p.sku_ids])
        return [_guide_view(p, skus, tier.rate_bps) for p in products], next_cursor

    def _all_page(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]:
        if cursor is not None and "k" not in cursor:
            raise errors.InvalidRequest("the promotion pool changed since this cursor: start from the first page")
        products, next_key = self.catalog.list_products(limit, cursor["k"] if cursor else None)
        return products, ({"k": next_key} if next_key else None)

    def _listed_page(self, ids: tuple[str, ...], limit: int, cursor: dict | None):
        if cursor is not None and not isinstance(cursor.get("o"), int):
            raise errors.InvalidRequest("the promotion pool changed since this cursor: start from the first page")
        position = max(0, int((cursor or {}).get("o", 0)))
        page: list[Product] = []
        for _ in range(ROUNDS):
            if len(page) >= limit or position >= len(ids):
                break
            chunk = list(ids[position:position + limit - len(page)])
            found = self.catalog.get_products(chunk)
            for pid in chunk:
                position += 1
                if (p := found.get(pid)) is not None and p.active:
                    page.append(p)
        return page, ({"o": position} if position < len(ids) else None)


class _Stale(Exception):
    """The pool changed since it was read."""


def _guide_view(product: Product, skus: dict[str, Sku], tier_rate_bps: int) -> dict:
    """A pool product as a guide's list shows it: the storefront's summary (id, title,
    cover, price range) and, per on-sale SKU, what one unit at its price earns the guide."""
    sku_views = []
    for sku_id in product.sku_ids:
        sku = skus.get(sku_id)
        if sku is None or not sku.active:
            continue
        rate, amount = rules.line_commission(sku.price, sku.commission, tier_rate_bps)
        sku_views.append({"id": sku.sku_id, "spec": sku.spec, "price": sku.price, "list_price": sku.list_price,
                          "stock_status": stock_status(sku.stock), "my_commission": amount,
                          "my_commission_rate_bps": rate})
    prices = [v["price"] for v in sku_views]
    earnings = [v["my_commission"] for v in sku_views]
    return {"id": product.product_id, "title": product.title,
            "image": product.images[0] if product.images else None,
            "price": min(prices) if prices else None,
            "price_min": min(prices) if prices else None, "price_max": max(prices) if prices else None,
            "my_commission_rate_bps": rules.line_rate(product.commission, tier_rate_bps),
            "my_commission_max": max(earnings) if earnings else 0,
            "skus": sku_views}
