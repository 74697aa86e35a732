"""Shoppers. pk `USER#<user_id>`, sk `PROFILE`.

A user id is derived from the openid (one shop = one appid), so a first login racing
with itself creates one user, not two, and login needs no index lookup.
"""

from __future__ import annotations

import hashlib

from pynamodb.attributes import UnicodeAttribute

from layers.storage.base import ShopModel


class UserItem(ShopModel):
    user_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    unionid = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    last_login_at = UnicodeAttribute()


def user_id_for(openid: str) -> str:
    return "u_" + hashlib.sha256(openid.encode()).hexdigest()[:24]


def user_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PROFILE"


def upsert_user(openid: str, unionid: str | None, now: str) -> UserItem:
    user_id = user_id_for(openid)
    pk, sk = user_key(user_id)
    item = UserItem(pk, sk)
    # One UpdateItem: creates on first login, refreshes afterwards, never races.
    item.update(actions=[
        UserItem.user_id.set(user_id),
        UserItem.openid.set(openid),
        UserItem.created_at.set(UserItem.created_at | now),
        UserItem.last_login_at.set(now),
        *([UserItem.unionid.set(unionid)] if unionid else []),
    ])
    return item


def get_user(user_id: str) -> UserItem | None:
    try:
        return UserItem.get(*user_key(user_id))
    except UserItem.DoesNotExist:
        return None
