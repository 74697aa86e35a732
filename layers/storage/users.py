"""Shoppers. pk `USER#<user_id>`, sk `PROFILE` (the id: layers.domain.users.user_id_for)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.domain.users import User, user_id_for
from layers.storage.base import ShopModel


class UserItem(ShopModel):
    user_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    unionid = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    last_login_at = UnicodeAttribute()
    token_version = NumberAttribute(null=True)


def user_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PROFILE"


def _user(item: UserItem) -> User:
    return User(user_id=item.user_id, openid=item.openid, unionid=item.unionid,
                created_at=item.created_at, last_login_at=item.last_login_at,
                token_version=int(item.token_version or 0))


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

    def token_version(self, user_id: str) -> int:
        try:
            item = UserItem.get(*user_key(user_id), attributes_to_get=["token_version"])
        except UserItem.DoesNotExist:
            return 0
        return int(item.token_version or 0)

    def revoke_tokens(self, user_id: str) -> int:
        item = UserItem(*user_key(user_id))
        # ADD on a missing item creates it with only the version: a token issued for a
        # user who never logged in is revoked too.
        item.update(actions=[UserItem.token_version.add(1)])
        return int(item.token_version)


# -- for tests that seed or look up shoppers directly -------------------------------------

def upsert_user(openid: str, unionid: str | None, now: str) -> User:
    return DynamoUserRepository().upsert_user(openid, unionid, now)


def get_user(user_id: str) -> User | None:
    return DynamoUserRepository().get_user(user_id)


# -- the placement reader (layers/storage/placement.py) reads the shopper in its batch --

def to_user(item: UserItem) -> User:
    return _user(item)
