"""Links for channels in the shop table (the only module that knows their keys).

- The link: pk `LINK#<id>`, sk `LINK`. While PENDING (claimed, WeChat being asked) it is
  in no list; once READY it is in gsi1 `LINKS` / `<created_at>#<id>` (every link, newest
  first) and gsi2 `LINKS#<channel>` / `<created_at>#<id>` (one channel's).
- A claim is a put conditioned on the id being free, or, taking over a stale claim, on the
  stored claim's `claimed_at` being the one read; finishing and releasing are conditioned
  on the claim still being ours (PENDING, our `claimed_at`).

`DynamoLinks` implements the domain's `LinkRepository`.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError

from layers.domain.links import Link, LinkStatus
from layers.storage.base import ListedAndQueued
from layers.storage.errors import condition_failed

LINKS = "LINKS"  # gsi1: every READY link, newest first


def channel_list(channel: str) -> str:
    return f"LINKS#{channel}"  # gsi2: one channel's READY links, newest first


class LinkItem(ListedAndQueued):
    link_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    path = UnicodeAttribute()
    link_query = UnicodeAttribute(default="", attr_name="query")  # `query` is pynamodb's method
    opens = UnicodeAttribute()
    expires_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    claimed_at = UnicodeAttribute()
    url = UnicodeAttribute(null=True)
    image_key = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(default="")


def link_key(link_id: str) -> tuple[str, str]:
    return f"LINK#{link_id}", "LINK"


def _link(i: LinkItem) -> Link:
    return Link(link_id=i.link_id, kind=i.kind, channel=i.channel, path=i.path, query=i.link_query or "", opens=i.opens,
                expires_at=i.expires_at, status=i.status, created_at=i.created_at, claimed_at=i.claimed_at,
                url=i.url, image_key=i.image_key, request_hash=i.request_hash, created_by=i.created_by or "")


def _item(link: Link) -> LinkItem:
    item = LinkItem(*link_key(link.link_id), link_id=link.link_id, kind=str(link.kind), channel=link.channel,
                    path=link.path, link_query=link.query, opens=link.opens, expires_at=link.expires_at,
                    status=str(link.status), created_at=link.created_at, claimed_at=link.claimed_at, url=link.url,
                    image_key=link.image_key, request_hash=link.request_hash, created_by=link.created_by)
    if link.status == LinkStatus.READY:
        sk = f"{link.created_at}#{link.link_id}"
        item.gsi1pk, item.gsi1sk = LINKS, sk
        item.gsi2pk, item.gsi2sk = channel_list(link.channel), sk
    return item


def _ours(link: Link):
    return (LinkItem.status == str(LinkStatus.PENDING)) & (LinkItem.claimed_at == link.claimed_at)


class DynamoLinks:
    def get(self, link_id: str) -> Link | None:
        try:
            return _link(LinkItem.get(*link_key(link_id), consistent_read=True))
        except LinkItem.DoesNotExist:
            return None

    def claim(self, link: Link, replacing: Link | None) -> bool:
        condition = LinkItem.pk.does_not_exist() if replacing is None else _ours(replacing)
        try:
            _item(link).save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def finish(self, link: Link) -> bool:
        try:
            _item(link).save(condition=_ours(link))
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def release(self, link: Link) -> None:
        try:
            LinkItem(*link_key(link.link_id)).delete(condition=_ours(link))
        except DeleteError as exc:
            if not condition_failed(exc):
                raise  # ours or not, a claim left behind is taken over once stale

    def listed(self, channel: str | None, limit: int, cursor: dict | None):
        if channel is None:
            result = LinkItem.gsi1.query(LINKS, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        else:
            result = LinkItem.gsi2.query(channel_list(channel), scan_index_forward=False, limit=limit,
                                         last_evaluated_key=cursor)
        return [_link(i) for i in result], result.last_evaluated_key

