"""POST /auth/login: wx.login's code -> code2session -> the shop's own token.
POST /auth/logout and POST /admin/users/{user_id}/revoke-tokens revoke every
token issued so far (the user's token version is raised)."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import no_content, parse_body, require_admin, route, shopper_id, source_address

bp = Blueprint(__name__)


@route(bp, "/auth/login", methods=["POST"])
def login():
    body = parse_body(bp, schemas.LoginInput)
    return wiring.auth().login(body.code, source_address(bp))


@route(bp, "/auth/logout", methods=["POST"])
def logout():
    wiring.auth().revoke(shopper_id(bp))
    return no_content()


@route(bp, "/admin/users/{user_id}/revoke-tokens", methods=["POST"])
def revoke_tokens(user_id):
    require_admin(bp)
    return wiring.auth().revoke(user_id)
