"""Login: WeChat's code2session gives the openid; the shop issues its own token. The
session_key WeChat returns is never stored or returned: nothing here decrypts user data."""

from __future__ import annotations

from collections.abc import Callable

from layers.clock import iso
from layers.domain import errors
from layers.domain.miniprogram import InvalidCode, MiniProgramClient, WeChatUnavailable
from layers.domain.users import UserRepository


class AuthService:
    def __init__(self, *, users: UserRepository, mini_program: MiniProgramClient,
                 issue_token: Callable[[str], tuple[str, int]], clock):
        self.users = users
        self.mini_program = mini_program
        self.issue_token = issue_token
        self.clock = clock

    def login(self, code: str) -> dict:
        try:
            openid, unionid = self.mini_program.code2session(code)
        except InvalidCode as exc:
            raise errors.InvalidCode("WeChat rejected this login code") from exc
        except WeChatUnavailable as exc:
            raise errors.UpstreamUnavailable("WeChat cannot be reached; try again") from exc
        user = self.users.upsert_user(openid, unionid, iso(self.clock.now()))
        token, expires_in = self.issue_token(user.user_id)
        return {"token": token, "expires_in": expires_in, "user": {"id": user.user_id}}
