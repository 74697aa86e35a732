"""Payouts: the distributor's own, and the operators' settlement batches."""

from chalice import Blueprint, Response

from functions import wiring
from functions._api import paged, require_admin, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/me/payouts", methods=["GET"])
def my_payouts():
    user = shopper_id(bp)
    return paged(bp, wiring.settlement().my_payouts, user)


@route(bp, "/me/payouts/{payout_id}/claim", methods=["POST"])
def claim_payout(payout_id):
    user = shopper_id(bp)
    return wiring.settlement().claim(user, payout_id)


@route(bp, "/admin/settlements", methods=["GET"])
def list_settlements():
    require_admin(bp)
    return paged(bp, wiring.settlement().batches)


@route(bp, "/admin/settlements/{batch_id}/payouts.csv", methods=["GET"])
def settlement_csv(batch_id):
    require_admin(bp)
    return Response(body=wiring.settlement().batch_csv(batch_id), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{batch_id}-payouts.csv"'})


@route(bp, "/admin/payouts/{payout_id}/mark-paid", methods=["POST"])
def mark_paid(payout_id):
    require_admin(bp)
    return wiring.settlement().mark_paid_manually(payout_id)
