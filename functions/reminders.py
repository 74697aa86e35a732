"""Subscription-message consents (what wx.requestSubscribeMessage answered)."""

from chalice import Blueprint

from functions._api import created, parse_body, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/me/subscriptions", methods=["POST"])
def record_consent():
    from layers.services import reminders

    user = shopper_id(bp)
    return created(reminders.record_consent(user, parse_body(bp, reminders.ConsentInput)))


@route(bp, "/me/subscriptions", methods=["GET"])
def list_consents():
    from layers.services import reminders

    return reminders.consents_view(shopper_id(bp))
