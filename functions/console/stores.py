"""门店: the shop's stores (list, create, edit), a store's page with its staff (console
operators and guides), and the stores' monthly figures.

A store's staff (operator role `store`) open only their own store's pages: every view
here that shows one store is `console_page(..., store=True)` and calls
`require_store(ctx, store_id)`; `/console/my-store` takes them to theirs."""

from __future__ import annotations

from functions.console._kit import console_page, redirect


@console_page("/console/my-store", store=True)
def my_store(ctx):
    """A store's staff member's home: their store's page (owners and operators: the list)."""
    if not ctx.session.is_store:
        return redirect("/console/stores")
    if ctx.store_id is None:
        return ctx.page("error.html", 200, code="NO_STORE", message="你还没有被分配到门店,请联系店主把你加为门店店员。")
    return redirect(f"/console/stores/{ctx.store_id}")
