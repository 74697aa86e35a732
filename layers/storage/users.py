"""Shoppers. pk `USER#<user_id>`, sk `PROFILE` (the id: layers.domain.users.user_id_for)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from layers.domain.users import User, user_id_for
from layers.storage.base import ShopModel


class UserItem(ShopModel):
    user_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    unionid = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    last_login_at = UnicodeAttribute()


def user_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PROFILE"


def _user(item: UserItem) -> User:
    return User(user_id=item.user_id, openid=item.openid, unionid=item.unionid,
                created_at=item.created_at, last_login_at=item.last_login_at)


class DynamoUserRepository:
    """layers.domain.users.UserRepository."""

    def upsert_user(self, openid: str, unionid: str | None, now: str) -> User:
        user_id = user_id_for(openid)
        item = UserItem(*user_key(user_id))
        # One UpdateItem: creates on first login, refreshes afterwards, never races.
        item.update(actions=[
            UserItem.user_id.set(user_id),
            UserItem.openid.set(openid),
            UserItem.created_at.set(UserItem.created_at | now),
            UserItem.last_login_at.set(now),
            *([UserItem.unionid.set(unionid)] if unionid else []),
        ])
        return _user(item)

    def get_user(self, user_id: str) -> User | None:
        try:
            return _user(UserItem.get(*user_key(user_id)))
        except UserItem.DoesNotExist:
            return None


# -- for tests that seed or look up shoppers directly -------------------------------------

def upsert_user(openid: str, unionid: str | None, now: str) -> User:
    return DynamoUserRepository().upsert_user(openid, unionid, now)


def get_user(user_id: str) -> User | None:
    return DynamoUserRepository().get_user(user_id)


# -- issue 16: the placement reader (layers/storage/placement.py) reads the shopper in its batch --

def to_user(item: UserItem) -> User:
    return _user(item)
