"""The mini-program server API client, built once per container, sharing its access
token through the table."""

from __future__ import annotations

from functools import lru_cache

from layers.config import settings


@lru_cache(maxsize=1)
def mini_program():
    from layers.storage.kv import DynamoSessionStorage
    from layers.wechat.miniprogram import MiniProgram

    s = settings()
    return MiniProgram(appid=s.wechat_appid, secret=s.wechat_app_secret, api_base=s.wechat_api_base,
                       session=DynamoSessionStorage())
