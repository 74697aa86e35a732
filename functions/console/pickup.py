"""门店自提: a store's redemption page (核销: type the code the shopper shows, or scan its
QR with the camera where the browser can), the store's pickup orders waiting to be
collected, and every store's for owners and operators.

A store's staff (role `store`) open only their own store's pages (`require_store`); the
redemption itself is the service the mini-program's guides use (`wiring.pickup()`)."""

from __future__ import annotations

from functions import schemas, wiring
from functions.console._kit import _form, console_page, require_store


def _store(store_id: str):
    from layers.domain import errors

    store = wiring.store_repository().get(store_id)
    if store is None:
        raise errors.NotFound("no such store")
    return store


@console_page("/console/stores/{store_id}/redeem", store=True)
def redeem_page(ctx, store_id):
    require_store(ctx, store_id)
    return ctx.page("pickup_redeem.html", store=_store(store_id), result=None)


@console_page("/console/stores/{store_id}/redemptions", methods=("POST",), store=True)
def redeem(ctx, store_id):
    """The code typed or scanned: the order handed over, with its lines (or why not)."""
    require_store(ctx, store_id)
    store = _store(store_id)
    body = schemas.RedemptionInput(code=(_form().get("code") or "").strip() or "?")
    service = wiring.pickup()
    service.check_operator(ctx.session.name, ctx.session.is_store, store_id)
    order = service.redeem(store_id, body.code, f"operator:{ctx.session.name}")
    return ctx.page("pickup_redeem.html", store=store, result=order)


@console_page("/console/stores/{store_id}/pickup", store=True)
def store_pickups(ctx, store_id):
    """The store's paid pickup orders not collected yet, the soonest to be refunded first."""
    require_store(ctx, store_id)
    store = _store(store_id)
    return ctx.page("pickup_orders.html", store=store, orders=wiring.pickup().waiting(store_id),
                    stores={store.store_id: store.name})


@console_page("/console/pickup")
def all_pickups(ctx):
    """Every store's pickup orders waiting to be collected (owners and operators)."""
    stores = {s.store_id: s.name for s in wiring.store_repository().all()}
    return ctx.page("pickup_orders.html", store=None, orders=wiring.pickup().waiting(None), stores=stores)
