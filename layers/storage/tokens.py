"""The mini-program access token, shared by every container (layers/wechat/access_token.py).

- pk `TOKEN#<appid>`, sk `TOKEN`: the token, when it expires and when it was fetched.
- pk `TOKEN#<appid>`, sk `LEASE`: who is fetching a new one, until when (a conditional put:
  nobody holds it, or the holder's time ran out).
"""

from __future__ import annotations

import time

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError

from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed
from layers.wechat.access_token import StoredToken


class TokenItem(ShopModel):
    token = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    fetched_at = NumberAttribute(null=True)
    owner = UnicodeAttribute(null=True)
    until = NumberAttribute(null=True)


class DynamoTokenStore:
    """layers.wechat.access_token.TokenStore on the shop table."""

    def __init__(self, appid: str | None):
        self.pk = f"TOKEN#{appid or 'none'}"

    def get(self) -> StoredToken | None:
        try:
            item = TokenItem.get(self.pk, "TOKEN", consistent_read=True)
        except TokenItem.DoesNotExist:
            return None
        return StoredToken(item.token, float(item.expires_at), float(item.fetched_at or 0))

    def put(self, token: StoredToken) -> None:
        TokenItem(self.pk, "TOKEN", token=token.token, expires_at=token.expires_at, fetched_at=token.fetched_at,
                  ttl=int(token.expires_at) + 3600).save()

    def try_lease(self, owner: str, seconds: float) -> bool:
        now = time.time()
        try:
            TokenItem(self.pk, "LEASE", owner=owner, until=now + seconds, ttl=int(now + seconds) + 3600).save(
                condition=TokenItem.pk.does_not_exist() | (TokenItem.until < now) | (TokenItem.owner == owner))
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def release(self, owner: str) -> None:
        try:
            TokenItem(self.pk, "LEASE").delete(condition=TokenItem.owner == owner)
        except DeleteError as exc:
            if not condition_failed(exc):
                raise
