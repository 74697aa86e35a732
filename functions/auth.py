"""POST /auth/login: wx.login's code -> code2session -> the shop's own token."""

from chalice import Blueprint

from functions import schemas, wiring
from functions._api import parse_body, route

bp = Blueprint(__name__)


@route(bp, "/auth/login", methods=["POST"])
def login():
    body = parse_body(bp, schemas.LoginInput)
    return wiring.auth().login(body.code)
