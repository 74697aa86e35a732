"""Bargains (砍价) and friend assistance (助力): shoppers start instances, friends help,
the bargain's owner buys at the floor; operators create campaigns and see owed rewards."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import (
    created,
    idempotency_key,
    paged,
    parse_body,
    query_param,
    require_admin,
    route,
    shopper_id,
    shopper_writing,
)

bp = Blueprint(__name__)


# -- bargains --------------------------------------------------------------------------------

@route(bp, "/admin/bargains", methods=["POST"])
def create_bargain():
    require_admin(bp)
    return created(wiring.bargains().create_bargain(parse_body(bp, schemas.BargainInput)))


@route(bp, "/admin/bargains/{bargain_id}/stop", methods=["POST"])
def stop_bargain(bargain_id):
    require_admin(bp)
    return wiring.bargains().stop_bargain(bargain_id)


@route(bp, "/bargains/{bargain_id}", methods=["GET"])
def get_bargain(bargain_id):
    return wiring.bargains().get_bargain(bargain_id)


@route(bp, "/bargains/{bargain_id}/instances", methods=["POST"])
def start_bargain(bargain_id):
    user = shopper_id(bp)
    return created(wiring.bargains().start(user, bargain_id))


@route(bp, "/bargain-instances/{instance_id}", methods=["GET"])
def get_bargain_instance(instance_id):
    return wiring.bargains().get_instance(instance_id)


@route(bp, "/bargain-instances/{instance_id}/helpers", methods=["GET"])
def bargain_helpers(instance_id):
    return {"items": wiring.bargains().helpers(instance_id), "next_cursor": None}


@route(bp, "/bargain-instances/{instance_id}/helps", methods=["POST"])
def help_bargain(instance_id):
    user = shopper_writing(bp, "helps")
    return created(wiring.bargains().help(user, instance_id))


@route(bp, "/bargain-instances/{instance_id}/orders", methods=["POST"])
def buy_bargain(instance_id):
    user = shopper_id(bp)
    key = idempotency_key(bp)
    body = parse_body(bp, schemas.BargainOrderInput)
    return created(wiring.bargains().buy(user, instance_id, body, key))


# -- friend assistance -----------------------------------------------------------------------

@route(bp, "/admin/assist-campaigns", methods=["POST"])
def create_assist_campaign():
    require_admin(bp)
    return created(wiring.assistance().create_campaign(parse_body(bp, schemas.AssistCampaignInput)))


@route(bp, "/admin/assist-campaigns/{campaign_id}/stop", methods=["POST"])
def stop_assist_campaign(campaign_id):
    require_admin(bp)
    return wiring.assistance().stop_campaign(campaign_id)


@route(bp, "/admin/assist-rewards", methods=["GET"])
def assist_rewards():
    require_admin(bp)
    return paged(bp, wiring.assistance().rewards, query_param(bp, "status"))


@route(bp, "/assist-campaigns/{campaign_id}", methods=["GET"])
def get_assist_campaign(campaign_id):
    return wiring.assistance().get_campaign(campaign_id)


@route(bp, "/assist-campaigns/{campaign_id}/instances", methods=["POST"])
def start_assist(campaign_id):
    user = shopper_id(bp)
    return created(wiring.assistance().start(user, campaign_id))


@route(bp, "/assist-instances/{instance_id}", methods=["GET"])
def get_assist_instance(instance_id):
    return wiring.assistance().get_instance(instance_id)


@route(bp, "/assist-instances/{instance_id}/helps", methods=["POST"])
def help_assist(instance_id):
    user = shopper_writing(bp, "helps")
    return created(wiring.assistance().help(user, instance_id))
