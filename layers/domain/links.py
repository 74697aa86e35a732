"""Links for channels (推广链接): a URL Link, a URL Scheme or a mini-program code that opens
one page of the mini-program and carries the channel it was made for, so that visits and
orders through it are counted for that channel (朋友圈, 公众号 articles, SMS, posters).

    (claimed)  PENDING  -- WeChat answered, the image (a code) kept -->  READY
    PENDING    -- WeChat refused or did not answer -->  (deleted: nothing half-stored)

The rules, and why (docs/links.md has WeChat's sources):

- `channel` is a short ASCII tag, `[a-z0-9_-]{1,24}`: it travels in the link's `query`
  (`channel=<tag>`) and in a code's `scene` (`c=<tag>`), and WeChat takes only digits,
  letters and a few symbols there (the scene at most 32 characters). A Chinese tag would
  need percent-encoding, 9 characters a character, and would not fit a scene.
- `path` is a page of the mini-program without a leading `/` and without a query
  (`pages/product/index`); WeChat opens only pages of the published version.
- `query` is the merchant's own (`id=p1&from=sms`), of WeChat's characters, without a
  `channel` key (the channel is ours to add); with `channel=<tag>` merged in it stays
  within WeChat's 1024 characters. For a code it goes into the scene with `c=<tag>`, and
  the whole scene must fit 32 characters.
- A URL Link or Scheme expires after `expires_in_days`, 1 to 30 (30 by default): WeChat
  makes no longer ones since 2023. A mini-program code (getUnlimited) never expires, so it
  takes no `expires_in_days`.
- An `Idempotency-Key` names the link (`keyed_link_id`): a retried create answers the same
  link. The link is claimed (PENDING) before WeChat is asked, so two creates with the same
  key at once ask WeChat once; a claim whose creator died (older than `CLAIM_TTL_S`) is
  taken over.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from layers.domain import errors


class LinkKind(StrEnum):
    URL_LINK = "url_link"
    URL_SCHEME = "url_scheme"
    QRCODE = "qrcode"


class LinkStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"


KINDS = tuple(k.value for k in LinkKind)
CHANNEL_RE = re.compile(r"^[a-z0-9_-]{1,24}$", re.ASCII)
PATH_RE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)+$", re.ASCII)
PATH_MAX = 128
# urllink.generate / generatescheme `query`: "最大 1024 个字符，只支持数字，大小写英文以及部分特殊字符
# !#$&'()*+,/:;=?@-._~%".
QUERY_CHARS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~%]*$", re.ASCII)
QUERY_MAX = 1024
# getUnlimited `scene`: "最大32个可见字符，只支持数字，大小写英文以及部分特殊字符：!#$&'()*+,/:;=?@-._~".
SCENE_CHARS = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$", re.ASCII)
SCENE_MAX = 32
DAYS_MAX = 30
DAYS_DEFAULT = 30
CLAIM_TTL_S = 60
CHANNEL_KEY = "channel"  # in a link's query
SCENE_CHANNEL_KEY = "c"  # in a code's scene (32 characters in all)
# Pages the console offers as examples (the mini-program's, docs/miniprogram.md).
EXAMPLE_PAGES = ("pages/index/index", "pages/product/index", "pages/flash/index", "pages/group/detail",
                 "pages/me/coupons")
# Tags the console suggests, with what they stand for.
EXAMPLE_CHANNELS = (("moments", "朋友圈"), ("article", "公众号文章"), ("sms", "短信"), ("poster", "门店海报"))


@dataclass(frozen=True)
class Link:
    link_id: str
    kind: str
    channel: str
    path: str
    query: str  # the merchant's, without the channel
    opens: str  # what WeChat is given: the query with the channel, or a code's scene
    expires_at: str | None  # None for a code
    status: str
    created_at: str
    claimed_at: str
    url: str | None = None
    image_key: str | None = None
    request_hash: str | None = None
    created_by: str = ""


class LinkRepository(Protocol):
    def get(self, link_id: str) -> Link | None: ...

    def claim(self, link: Link, replacing: Link | None) -> bool:
        """Store the PENDING `link` if its id is free, or over `replacing` (a stale claim)
        if that is still stored as it was read; False otherwise."""

    def finish(self, link: Link) -> bool:
        """Write the READY `link` over its own claim (same `claimed_at`); False if the
        claim was taken over meanwhile."""

    def release(self, link: Link) -> None:
        """Delete the claim if it is still ours (nothing was made)."""

    def listed(self, channel: str | None, limit: int, cursor: dict | None) -> tuple[list[Link], dict | None]:
        """READY links, newest first; only `channel`'s when given."""


class LinkImages(Protocol):
    """Where codes' images are kept (the code bucket); `put` raises when not written."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...


# -- the rules -----------------------------------------------------------------------------

def check_channel(channel) -> str:
    if not isinstance(channel, str) or not CHANNEL_RE.fullmatch(channel):
        raise errors.InvalidRequest("channel must be 1 to 24 lowercase letters, digits, '_' or '-' (e.g. moments, sms_1212)",
                                    field="channel")
    return channel


def check_path(path) -> str:
    if not isinstance(path, str):
        raise errors.InvalidRequest("path is required", field="path")
    path = path.strip().removeprefix("/")
    if "?" in path:
        raise errors.InvalidRequest("path takes no query: put it in query", field="path")
    if not path or len(path) > PATH_MAX or not PATH_RE.fullmatch(path):
        raise errors.InvalidRequest("path must be a page of the mini-program, like pages/product/index", field="path")
    return path


def check_query(query) -> str:
    if query is not None and not isinstance(query, str):
        raise errors.InvalidRequest("query must be a string", field="query")
    query = (query or "").strip().removeprefix("?")
    if not QUERY_CHARS.fullmatch(query):
        raise errors.InvalidRequest("query takes only letters, digits and !#$&'()*+,/:;=?@-._~%", field="query")
    pairs = [p for p in query.split("&") if p] if query else []
    for pair in pairs:
        key, eq, _ = pair.partition("=")
        if not key or not eq:
            raise errors.InvalidRequest("query must be key=value pairs joined by &", field="query")
        if key in (CHANNEL_KEY, SCENE_CHANNEL_KEY):
            raise errors.InvalidRequest(f"query must not name {key!r}: the channel is added to it", field="query")
    return "&".join(pairs)


def check_days(kind: str, days) -> int | None:
    if kind == LinkKind.QRCODE:
        if days is not None:
            raise errors.InvalidRequest("a mini-program code does not expire: leave expires_in_days out",
                                        field="expires_in_days")
        return None
    if days is None:
        return DAYS_DEFAULT
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DAYS_MAX:
        raise errors.InvalidRequest(f"expires_in_days must be 1 to {DAYS_MAX}: WeChat makes no longer links",
                                    field="expires_in_days")
    return days


def opens_with(kind: str, query: str, channel: str) -> str:
    """What WeChat is given: the link's query with `channel=<tag>`, or a code's scene with
    `c=<tag>` (refused when it does not fit the scene's 32 characters)."""
    if kind == LinkKind.QRCODE:
        scene = "&".join(p for p in (query, f"{SCENE_CHANNEL_KEY}={channel}") if p)
        if len(scene) > SCENE_MAX or not SCENE_CHARS.fullmatch(scene):
            raise errors.InvalidRequest(
                f"a code's scene ({scene!r}) must fit {SCENE_MAX} characters with c=<channel>: shorten the query or the channel",
                field="query")
        return scene
    full = "&".join(p for p in (query, f"{CHANNEL_KEY}={channel}") if p)
    if len(full) > QUERY_MAX:
        raise errors.InvalidRequest(f"query with channel=<tag> must fit {QUERY_MAX} characters", field="query")
    return full


def request_hash(kind: str, path: str, query: str, channel: str, days: int | None) -> str:
    """What a keyed request asked for: the same key with another request is refused."""
    canonical = json.dumps([kind, path, query, channel, days], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_link_id() -> str:
    return "l" + uuid.uuid4().hex[:20]


def keyed_link_id(idempotency_key: str) -> str:
    """The link an `Idempotency-Key` names: a retried POST is the same link."""
    return "l" + hashlib.sha256(f"link-key\x00{idempotency_key}".encode()).hexdigest()[:20]


def image_key(link_id: str) -> str:
    return f"link-codes/{link_id}"


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare(kind, path, query, channel, expires_in_days, *, now: datetime, link_id: str,
            request_hash: str | None = None, by: str = "") -> Link:
    """A PENDING link from a request, every rule checked (InvalidRequest, naming the field)."""
    if kind not in KINDS:
        raise errors.InvalidRequest(f"kind must be one of {', '.join(KINDS)}", field="kind")
    channel = check_channel(channel)
    path = check_path(path)
    query = check_query(query)
    days = check_days(kind, expires_in_days)
    opens = opens_with(kind, query, channel)
    expires_at = _iso(now + timedelta(days=days)) if days is not None else None
    at = _iso(now)
    return Link(link_id=link_id, kind=kind, channel=channel, path=path, query=query, opens=opens,
                expires_at=expires_at, status=LinkStatus.PENDING, created_at=at, claimed_at=at,
                request_hash=request_hash, created_by=by)


def days_of(link: Link) -> int | None:
    """The days asked for, read back from a stored link (for its request hash)."""
    if link.expires_at is None:
        return None
    start = datetime.fromisoformat(link.created_at.replace("Z", "+00:00"))
    end = datetime.fromisoformat(link.expires_at.replace("Z", "+00:00"))
    return round((end - start) / timedelta(days=1))


def stale(link: Link, now: datetime) -> bool:
    """A claim whose creator has had long enough: it died, or its answer was lost."""
    claimed = datetime.fromisoformat(link.claimed_at.replace("Z", "+00:00"))
    return link.status == LinkStatus.PENDING and now - claimed > timedelta(seconds=CLAIM_TTL_S)


def reclaimed(link: Link, now: datetime) -> Link:
    return replace(link, claimed_at=_iso(now))


def ready(link: Link, *, url: str | None = None, image_key: str | None = None) -> Link:
    if link.status != LinkStatus.PENDING:
        raise errors.InvalidState("the link is not being created")
    if link.kind == LinkKind.QRCODE and not image_key:
        raise errors.InvalidState("a code needs its image")
    if link.kind != LinkKind.QRCODE and not url:
        raise errors.InvalidState("a link needs its url")
    return replace(link, status=LinkStatus.READY, url=url, image_key=image_key)


def expired(link: Link, now: datetime) -> bool:
    return link.expires_at is not None and _iso(now) >= link.expires_at
