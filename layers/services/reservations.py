"""What an order holds until it is paid or closed, and how it is taken and given back.

An order records its reservations (`[{"kind": "sku", "sku_id", "quantity"}, ...]`);
taking them is part of the order's creating transaction, giving them back is part of
the closing transaction, whose condition on the order's status makes it happen once.
Kinds other than `sku` (a flash sale's shard) register here.
"""

from __future__ import annotations

from collections.abc import Callable

from layers.domain import errors
from layers.storage import catalog
from layers.storage.tx import Tx

Reservation = dict
_takers: dict[str, Callable[[Tx, Reservation], None]] = {}
_releasers: dict[str, Callable[[Tx, Reservation], None]] = {}


def register(kind: str, take: Callable[[Tx, Reservation], None],
             release: Callable[[Tx, Reservation], None]) -> None:
    _takers[kind] = take
    _releasers[kind] = release


# Where each kind registers itself: imported on first use, so that a consumer closing a
# flash-sale order knows how to give its unit back without importing everything up front.
_MODULES = {"flash": "layers.services.flash_sales"}


def _ensure(kind: str) -> None:
    if kind not in _takers and kind in _MODULES:
        import importlib

        importlib.import_module(_MODULES[kind])


def take(tx: Tx, reservation: Reservation) -> None:
    _ensure(reservation["kind"])
    _takers[reservation["kind"]](tx, reservation)


def release(tx: Tx, reservation: Reservation) -> None:
    _ensure(reservation["kind"])
    _releasers[reservation["kind"]](tx, reservation)


def _take_sku(tx: Tx, r: Reservation) -> None:
    sku = catalog.sku_ref(r["sku_id"])
    q = r["quantity"]
    tx.update(
        sku,
        actions=[catalog.SkuItem.stock.add(-q)],
        # The condition is what makes overselling impossible under any interleaving.
        condition=(catalog.SkuItem.stock >= q) & (catalog.SkuItem.active == True),  # noqa: E712
        on_fail=lambda: errors.SoldOut(f"not enough stock for sku {r['sku_id']}", sku_id=r["sku_id"]),
    )


def _release_sku(tx: Tx, r: Reservation) -> None:
    tx.update(catalog.sku_ref(r["sku_id"]), actions=[catalog.SkuItem.stock.add(r["quantity"])],
              condition=catalog.SkuItem.pk.exists())


register("sku", _take_sku, _release_sku)
