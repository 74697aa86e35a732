"""Share codes: the image of `wxacode.getUnlimited` that opens a share's page, with the
share in its `scene`. Each image is kept in the code bucket, so one share costs WeChat
one call however often it is asked for."""

from __future__ import annotations

import threading

from layers.domain import errors
from layers.domain.distributor import well_formed_token
from layers.domain.miniprogram import CodeApi, ImageStore, WeChatApiError, WeChatUnavailable
from layers.observability import logger

SCENE_MAX = 32


def scene_for(token: str) -> str:
    """What the mini-program reads back from `scene` (the same as POST /shares answers)."""
    return f"s={token}"


def page_for(product_id: str | None) -> str:
    """The share's page without its query (getUnlimited takes the query in `scene`); the
    pages of POST /shares' `path`."""
    return "pages/product/index" if product_id else "pages/index/index"


class ShareCodeService:
    def __init__(self, *, shares, api: CodeApi, images: ImageStore):
        self.shares = shares  # .get_share(token) -> Share | None
        self.api = api
        self.images = images
        self._lock = threading.Lock()

    def qrcode(self, token: str) -> tuple[bytes, str]:
        if not well_formed_token(token):
            raise errors.NotFound("no such share")
        key = f"share-codes/{token}"
        cached = self.images.get(key)
        if cached is not None:
            return cached
        share = self.shares.get_share(token)
        if share is None:
            raise errors.NotFound("no such share")
        scene = scene_for(token)
        if len(scene) > SCENE_MAX:
            raise errors.InvalidRequest("the share token does not fit a mini-program code's scene")
        with self._lock:  # one call per share from this container, however many ask at once
            cached = self.images.get(key)
            if cached is not None:
                return cached
            try:
                image, content_type = self.api.get_unlimited_code(scene, page_for(share.product_id))
            except (WeChatApiError, WeChatUnavailable) as exc:
                logger.warning("getUnlimited failed", extra={"error": str(exc)})
                raise errors.UpstreamUnavailable("WeChat could not make the code; try again") from exc
            self.images.put(key, image, content_type)
        return image, content_type
