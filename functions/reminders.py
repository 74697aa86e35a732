"""Subscription-message consents (what wx.requestSubscribeMessage answered)."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import created, parse_body, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/me/subscriptions", methods=["POST"])
def record_consent():
    user = shopper_id(bp)
    return created(wiring.reminders().record_consent(user, parse_body(bp, schemas.ConsentInput)))


@route(bp, "/me/subscriptions", methods=["GET"])
def list_consents():
    return wiring.reminders().consents_view(shopper_id(bp))
