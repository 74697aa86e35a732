"""`POST /visits`: the mini-program opened, through a channel and perhaps a guide's share
(layers/services/channels.py)."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import idempotency_key, no_content, parse_body, route, shopper_id

bp = Blueprint(__name__)


@route(bp, "/visits", methods=["POST"])
def visit():
    user = shopper_id(bp)
    wiring.channels().visit(user, parse_body(bp, schemas.VisitInput), idempotency_key(bp))
    return no_content()
