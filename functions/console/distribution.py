"""Distributors, settlements and payouts in the console (payouts: the owner only)."""

from __future__ import annotations

from chalice import Response

from functions import wiring
from functions.console._kit import _query, bp, console_page, redirect

# -- distributors ---------------------------------------------------------------------------------

@console_page("/console/distributors")
def distributors_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    items, next_key = wiring.distribution().list_all(20, decode_cursor(_query("cursor")))
    partial = bool(bp.current_request.headers.get("hx-request"))  # "more": the next rows only
    return ctx.page("_distributor_rows.html" if partial else "distributors.html", distributors=items,
                    next_cursor=encode_cursor(next_key))


@console_page("/console/distributors.csv")
def distributors_csv(ctx):
    svc = wiring.distribution()
    return Response(body=svc.to_csv(svc.all_rows(svc.list_all)), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": 'attachment; filename="distributors.csv"'})


# -- settlements and payouts (owner only) ---------------------------------------------------------

@console_page("/console/payouts", area="payouts")
def payouts_page(ctx):
    from functions._api import decode_cursor, encode_cursor

    batches, next_key = wiring.settlement().batches(10, decode_cursor(_query("cursor")))
    return ctx.page("payouts.html", batches=batches, next_cursor=encode_cursor(next_key))


@console_page("/console/payouts/{payout_id}/mark-paid", methods=("POST",), area="payouts")
def payout_mark_paid(ctx, payout_id):
    payout = wiring.settlement().mark_paid_manually(payout_id)
    wiring.operators().audit(ctx.session, "payout.mark_paid", payout_id, payout.get("amount"),
                             f"{payout.get('distributor_id')} -> {payout.get('status')}")
    return redirect("/console/payouts")


@console_page("/console/settlements/{batch_id}/payouts.csv", area="payouts")
def payouts_csv(ctx, batch_id):
    return Response(body=wiring.settlement().batch_csv(batch_id), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{batch_id}-payouts.csv"'})
