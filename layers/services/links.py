"""Links for channels (推广链接): create a URL Link, a URL Scheme or a mini-program code
carrying a channel, list them, read one, and serve a code's image.

How a create survives retries and WeChat's failures (layers/domain/links.py has the rules):

1. The request is checked (nothing is written for a refused one).
2. The link is claimed PENDING under its id (from the `Idempotency-Key` when given). A
   retry with the same key finds the READY link and answers it; one that arrives while
   the first is still asking WeChat is 409 IN_PROGRESS; a claim older than
   `CLAIM_TTL_S` (its creator died) is taken over.
3. WeChat is asked; the client asks again, with the same request, while the outcome is
   unknown (timeout, 5xx, 429, errcode -1). A code's image is written to the code bucket.
4. The link is written READY over its claim. Anything failing before that deletes the
   claim: a refusal is its 4xx, an outcome still unknown is 503 UPSTREAM_UNAVAILABLE, and
   no link is listed that WeChat did not make.
"""

from __future__ import annotations

from dataclasses import replace

from layers.domain import errors
from layers.domain import links as rules
from layers.domain.links import Link, LinkImages, LinkKind, LinkRepository, LinkStatus
from layers.domain.miniprogram import LinkApi, WeChatApiError, WeChatUnavailable
from layers.observability import logger

# WeChat's errcodes for a link or code it would not make (docs/links.md).
PAGE_ERRCODES = {40165, 85079, 41030}  # a page the published mini-program does not have; not published
QUOTA_ERRCODES = {45009, 44990, 85400, 45011}  # the day's links, too many a second, the long-lived limit
NOT_ALLOWED_ERRCODES = {40002, 40013}  # no permission to make links; permission banned
QUERY_ERRCODES = {40212, 40169, 40097, 85401}  # a query, scene or expiry WeChat refused


def link_view(link: Link) -> dict:
    view = {"id": link.link_id, "kind": str(link.kind), "channel": link.channel, "path": link.path,
            "query": link.query, "opens": link.opens, "expires_at": link.expires_at, "created_at": link.created_at,
            "created_by": link.created_by}
    if link.kind == LinkKind.QRCODE:
        view["image_url"] = f"/admin/links/{link.link_id}/image"
    else:
        view["url"] = link.url
    return view


class LinkService:
    def __init__(self, *, links: LinkRepository, api: LinkApi, images: LinkImages | None, clock):
        self.links = links
        self.api = api
        self.images = images  # the code bucket; None where none is configured (no codes then)
        self.clock = clock

    # -- creating ---------------------------------------------------------------------------

    def create(self, body, idempotency_key: str | None = None, by: str = "") -> dict:
        now = self.clock.now()
        link_id = rules.keyed_link_id(idempotency_key) if idempotency_key is not None else rules.new_link_id()
        link = rules.prepare(body.kind, body.path, body.query, body.channel, body.expires_in_days,
                             now=now, link_id=link_id, by=by)
        asked = rules.request_hash(link.kind, link.path, link.query, link.channel, rules.days_of(link))
        link = replace(link, request_hash=asked)
        if link.kind == LinkKind.QRCODE and self.images is None:
            raise errors.UpstreamUnavailable("no code bucket is configured: mini-program codes cannot be kept")
        for _ in range(3):
            earlier = self.links.get(link_id) if idempotency_key is not None else None
            replacing = None
            if earlier is not None:
                if earlier.request_hash != asked:
                    raise errors.IdempotencyKeyReused("this Idempotency-Key was used for another link")
                if earlier.status == LinkStatus.READY:
                    return link_view(earlier)
                if not rules.stale(earlier, now):
                    raise errors.InProgress("this link is being created; ask again in a moment")
                replacing = earlier
                link = replace(link, created_at=earlier.created_at, expires_at=earlier.expires_at)
            if self.links.claim(link, replacing):
                break
        else:
            raise errors.InProgress("this link is being created; ask again in a moment")
        try:
            done = self._make(link)
        except BaseException:
            self.links.release(link)
            raise
        if not self.links.finish(done):
            # Our claim went stale and another create took it over: its answer is the link.
            theirs = self.links.get(link_id)
            if theirs is not None and theirs.status == LinkStatus.READY:
                return link_view(theirs)
            raise errors.InProgress("this link is being created; ask again in a moment")
        logger.info("link created", extra={"link_id": done.link_id, "kind": str(done.kind), "channel": done.channel})
        return link_view(done)

    def _make(self, link: Link) -> Link:
        try:
            if link.kind == LinkKind.URL_LINK:
                return rules.ready(link, url=self.api.generate_url_link(link.path, link.opens,
                                                                        rules.days_of(link)))
            if link.kind == LinkKind.URL_SCHEME:
                return rules.ready(link, url=self.api.generate_scheme(link.path, link.opens, rules.days_of(link)))
            image, content_type = self.api.get_unlimited_code(link.opens, link.path, check_path=True, retries=2)
        except WeChatApiError as exc:
            raise _refusal(exc) from exc
        except WeChatUnavailable as exc:
            logger.warning("WeChat did not answer a link", extra={"kind": str(link.kind), "error": str(exc)[:200]})
            raise errors.UpstreamUnavailable("WeChat did not answer; nothing was created, try again") from exc
        key = rules.image_key(link.link_id)
        try:
            self.images.put(key, image, content_type)
        except Exception as exc:
            logger.error("code bucket not writable", extra={"key": key, "error": str(exc)[:200],
                                                            "alarm": "CODE_BUCKET"})
            raise errors.UpstreamUnavailable("the code's image could not be kept; nothing was created, try again") from exc
        return rules.ready(link, image_key=key)

    # -- reading ----------------------------------------------------------------------------

    def get(self, link_id: str) -> dict:
        return link_view(self._ready(link_id))

    def page(self, channel: str | None, limit: int, cursor: dict | None):
        if channel is not None:
            rules.check_channel(channel)
        found, next_key = self.links.listed(channel, limit, cursor)
        return [link_view(link) for link in found], next_key

    def image(self, link_id: str) -> tuple[bytes, str]:
        link = self._ready(link_id)
        if link.kind != LinkKind.QRCODE or not link.image_key or self.images is None:
            raise errors.NotFound("this link has no image")
        data = self.images.get(link.image_key)
        if data is None:
            raise errors.UpstreamUnavailable("the code's image cannot be read now; try again")
        return data, "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"

    def _ready(self, link_id: str) -> Link:
        link = self.links.get(link_id)
        if link is None or link.status != LinkStatus.READY:
            raise errors.NotFound("no such link")
        return link


def _refusal(exc: WeChatApiError) -> errors.DomainError:
    code = int(exc.errcode)
    logger.warning("WeChat refused a link", extra={"errcode": code, "errmsg": str(exc.errmsg)[:200]})
    if code in PAGE_ERRCODES:
        return errors.InvalidPage(f"WeChat has no such page in the published mini-program ({code})", field="path")
    if code in QUOTA_ERRCODES:
        return errors.LinkQuotaExceeded(f"WeChat's quota of links is used up for now ({code})", retry_after=60)
    if code in NOT_ALLOWED_ERRCODES:
        return errors.LinksNotAllowed(f"WeChat does not let this mini-program make links ({code})")
    if code in QUERY_ERRCODES:
        return errors.InvalidRequest(f"WeChat refused the link's query or expiry ({code})", field="query")
    return errors.UpstreamUnavailable(f"WeChat refused the link ({code}); nothing was created")
