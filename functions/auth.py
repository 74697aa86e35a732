"""POST /auth/login: wx.login's code -> code2session -> the shop's own token."""

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from functions._api import parse_body, route

bp = Blueprint(__name__)


class LoginInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128)


@route(bp, "/auth/login", methods=["POST"])
def login():
    from layers.services.auth import login as do_login

    body = parse_body(bp, LoginInput)
    return do_login(body.code)
