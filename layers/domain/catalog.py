"""The catalog: products, their SKUs, and the stock an order takes and gives back.

A SKU's `stock` is what can still be sold. An order takes from it in its creating
transaction, conditioned on enough stock and the SKU being on sale (so overselling is
impossible under any interleaving), and gives it back in its closing transaction. The
product's title, category and commission are copied onto each SKU so that pricing an
order reads SKUs only; so is its freight template.

A reservation is what an order holds: `{"kind": "sku", "sku_id", "quantity"}` here
(flash-sale units are the flash-sale repository's).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pydantic loads only where settings are parsed
    from layers.domain.shop_settings import ShopSettings

LOW_STOCK = 10


@dataclass(frozen=True)
class Sku:
    sku_id: str
    product_id: str
    title: str
    category: str | None
    price: int
    stock: int
    commission: dict | None = None
    active: bool = True
    spec: dict | None = None
    retired: bool = False  # left out of an edit (never back on sale with its product)
    list_price: int | None = None  # the struck-through "was" price (划线价), at least `price`
    weight_g: int | None = None  # for freight by weight
    freight_template_id: str | None = None  # the product's, copied here: pricing reads SKUs only
    # the product's category and that category's parent, copied here for the same reason
    # (a promotion's scope names categories)
    category_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StockChange:
    """How an operator's write moves a SKU's stock. Orders take and give back
    units concurrently, so an existing SKU's stock is never set blind: it moves by
    `delta` (never below 0), or is set to `set_to` only while it is still `expected`
    (the stock the operator saw). A new SKU is set to `set_to`; with nothing given the
    stock is left as it is."""

    set_to: int | None = None
    expected: int | None = None
    delta: int | None = None


@dataclass(frozen=True)
class Product:
    product_id: str
    title: str
    category: str | None
    sku_ids: tuple[str, ...]
    commission: dict | None
    created_at: str
    updated_at: str
    active: bool = True
    # What a shopper's product page shows: `images[0]` is the cover.
    images: tuple[str, ...] = ()
    description: str | None = None
    detail_images: tuple[str, ...] = ()
    category_id: str | None = None
    tags: tuple[str, ...] = ()
    sort_weight: int = 0
    price_min: int | None = None  # the lowest price of its on-sale SKUs, for the listing
    freight_template_id: str | None = None  # None: the shop's flat shipping fee


def content_of(body) -> dict:
    """A product's content fields from a validated body (absent fields empty)."""
    return {"images": tuple(getattr(body, "images", None) or ()),
            "description": getattr(body, "description", None) or None,
            "detail_images": tuple(getattr(body, "detail_images", None) or ()),
            "category_id": getattr(body, "category_id", None),
            "tags": tuple(dict.fromkeys(t.strip() for t in (getattr(body, "tags", None) or ()) if t.strip())),
            "sort_weight": int(getattr(body, "sort_weight", None) or 0)}


def stock_status(stock: int) -> str:
    if stock <= 0:
        return "SOLD_OUT"
    return "LOW_STOCK" if stock <= LOW_STOCK else "IN_STOCK"


class StockRepository(Protocol):
    """What order placement needs from the catalog."""

    def get_skus(self, sku_ids: list[str]) -> dict[str, Sku]:
        """SKUs by id; missing ids are absent from the answer."""

    def stage_take(self, tx, reservation: dict) -> None:
        """Take `quantity` from the SKU's stock, conditioned on `stock >= quantity` and the
        SKU being active; the transaction raises `errors.SoldOut(sku_id=...)` otherwise."""

    def stage_release(self, tx, reservation: dict) -> None:
        """Give `quantity` back, conditioned on the SKU still existing."""

    def load_settings(self, fresh: bool = False) -> ShopSettings: ...


class SettingsRepository(Protocol):
    def load_settings(self, fresh: bool = False) -> ShopSettings: ...

    def save_settings(self, value: ShopSettings, now: str) -> None: ...


class CatalogRepository(StockRepository, Protocol):
    def new_id(self, prefix: str) -> str: ...

    def get_product(self, product_id: str) -> Product | None: ...

    def list_products(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]: ...

    def stage_put_sku(self, tx, sku: Sku, stock: StockChange) -> None:
        """Write the SKU's fields (its `stock` field is ignored) and move its stock as
        `stock` says; the transaction raises `errors.StockChanged` when the stock is no
        longer `expected`, or the delta would take it below 0."""

    def stage_retire_sku(self, tx, sku_id: str) -> None:
        """Take a SKU off sale; it stays, since open orders still name it."""

    def stage_put_product(self, tx, product: Product) -> None: ...

    # -- the console --
    def list_all_products(self, limit: int, cursor: dict | None) -> tuple[list[Product], dict | None]:
        """Every product, on sale or off, newest first (the operators' list)."""

    def stage_set_on_sale(self, tx, before: Product, after: Product, sku_ids: list[str], on_stale) -> None:
        """Write `after`'s `active` and `updated_at`, conditioned on the product being
        still `before` (its `updated_at`, `sku_ids` and `active`), and the same `active` on each of `sku_ids`,
        conditioned on the SKU not being retired; the commit raises `on_stale()` otherwise."""

    # -- the stock ledger --
    def stage_stock_entry(self, tx, entry: StockEntry) -> None:
        """Put the entry (in the transaction that moves the stock it records): one item
        per transaction, whatever the number of SKUs it moves."""

    def stock_entries(self, product_id: str, limit: int, cursor: dict | None) -> tuple[list[StockEntry], dict | None]:
        """The product's entries, newest first."""

    # -- stock by delta (the console) --
    def stage_adjust_stock(self, tx, sku_id: str, delta: int, on_short) -> None:
        """Add `delta` (negative: take) to the SKU's stock, conditioned on the SKU existing
        and, when taking, on `stock >= -delta`; the commit raises `on_short()` otherwise.
        An increment, not a set: concurrent orders keep what they took."""


# -- stock by delta, with a reason --
STOCK_DELTA_MAX = 1_000_000


def check_stock_adjustment(delta: int, reason: str) -> str:
    """The reason, trimmed; refuses a zero or huge delta and a missing reason."""
    from layers.domain import errors  # noqa: PLC0415 - kept with the issue-21 block

    if not isinstance(delta, int) or delta == 0 or abs(delta) > STOCK_DELTA_MAX:
        raise errors.InvalidRequest(f"delta: a non-zero integer from -{STOCK_DELTA_MAX} to {STOCK_DELTA_MAX}")
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 80:
        raise errors.InvalidRequest("reason: 1 to 80 characters")
    return reason


# -- the stock ledger --
REASON_CREATED = "新建商品"
REASON_EDITED = "编辑商品"


@dataclass(frozen=True)
class StockEntry:
    """An operator's move of a product's stock: `moves` maps each SKU moved to its delta,
    for `reason`, written in the same transaction as the moves (orders take and give back
    stock without entries)."""

    product_id: str
    entry_id: str
    moves: dict[str, int]
    reason: str
    at: str
    by: str | None = None


def stock_delta(change: StockChange) -> int | None:
    """The exact move a write makes, where it is known before the commit: a delta; a set
    conditioned on the stock being `expected`; a new SKU's stock. None when it moves nothing."""
    if change.delta is not None:
        delta = change.delta
    elif change.set_to is not None:
        delta = change.set_to - (change.expected or 0)
    else:
        return None
    return delta or None


# -- on and off sale --
def set_on_sale(product: Product, on_sale: bool, now: str) -> Product:
    """The product put on sale (or taken off): the same product when it already is."""
    if product.active == on_sale:
        return product
    return replace(product, active=on_sale, updated_at=now)


def retired_sku_ids(product: Product, skus: dict[str, Sku]) -> set[str]:
    """The product's SKUs that an edit left out: marked `retired`, or (written before the
    mark existed) inactive while the product is on sale. They stay off sale."""
    return {i for i in product.sku_ids
            if i not in skus or skus[i].retired or (product.active and not skus[i].active)}


def shown_to_operators(product: Product, sku: Sku) -> bool:
    """A SKU the console lists: on sale, or off sale with its product (not retired)."""
    return sku.active or (not product.active and not sku.retired)


# DynamoDB's TransactWriteItems takes at most 100 items. A product edit writes only the
# SKUs it changes; an edit that changes more than fit beside the product and its stock
# entry is written in several transactions (`edit_batches`).
TX_MAX_ITEMS = 100


def sku_write_needed(current: Sku | None, new: Sku, change: StockChange) -> bool:
    """Whether an edit must write this SKU: it is new, something on it differs, or its
    stock moves. A SKU sent back as it is costs no write (an edit of one price of a
    100-SKU product writes one SKU). `stock` sent back unchanged asserts it is still that:
    checked against the read here (409 STOCK_CHANGED), as the write's condition would."""
    if current is None:
        return True
    moves = change.delta not in (None, 0) or (change.set_to is not None and change.set_to != change.expected)
    if moves:
        return True
    if change.expected is not None and current.stock != change.expected:
        from layers.domain import errors

        raise errors.StockChanged(
            f"the stock of sku {current.sku_id} changed since it was read: send stock_delta, or stock with "
            "expected_stock (the stock you saw)", sku_id=current.sku_id)
    same = (current.title, current.category, current.price, current.commission, current.active, current.spec,
            current.retired, current.list_price, current.weight_g, current.freight_template_id,
            tuple(current.category_ids))
    return same != (new.title, new.category, new.price, new.commission, new.active, new.spec, False,
                    new.list_price, new.weight_g, new.freight_template_id, tuple(new.category_ids))


def edit_batches(puts: list, retires: list, room: int = TX_MAX_ITEMS - 2) -> list[tuple[list, list]]:
    """The writes of one edit in transactions of at most `room` SKU writes (the product
    and a stock entry take the other two): the stock moves first, so a 409 comes before
    anything is written whenever they fit one transaction."""
    ordered = [("put", p) for p in puts] + [("retire", r) for r in retires]
    batches = [ordered[i:i + room] for i in range(0, len(ordered), room)] or [[]]
    return [([x for kind, x in b if kind == "put"], [x for kind, x in b if kind == "retire"]) for b in batches]
