"""Login: WeChat's code2session gives the openid; the shop issues its own token. The
session_key WeChat returns is never stored or returned: nothing here decrypts user data."""

from __future__ import annotations

from layers import clock
from layers.auth import issue_shopper_token
from layers.domain import errors
from layers.storage.users import upsert_user


def login(code: str) -> dict:
    from layers.services.miniprogram import mini_program
    from layers.wechat.miniprogram import InvalidCode, WeChatUnavailable

    try:
        openid, unionid = mini_program().code2session(code)
    except InvalidCode as exc:
        raise errors.InvalidCode("WeChat rejected this login code") from exc
    except WeChatUnavailable as exc:
        raise errors.UpstreamUnavailable("WeChat cannot be reached; try again") from exc
    user = upsert_user(openid, unionid, clock.now_iso())
    token, expires_in = issue_shopper_token(user.user_id)
    return {"token": token, "expires_in": expires_in, "user": {"id": user.user_id}}
