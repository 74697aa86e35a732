"""Images the shop issued: upload slots and the URLs products, categories and after-sales carry.

An operator (or the mini-program) asks for a slot; the browser then posts the file straight
to the bucket with a presigned POST whose policy allows only the stated type and at most the
stated size (never more than 5 MB). The object key is chosen here, not by the client:

    img/<32 random hex>-<16 hex of an HMAC over the random part and the extension>.<ext>

The random part makes keys unguessable (the bucket is not listable either); the HMAC lets any
container tell, without a read, that a URL is one the shop issued: a product that names any
other image is refused (422 UNKNOWN_IMAGE), so the shop never shows a third party's picture
or a tracking pixel.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from layers.domain import errors

MAX_BYTES = 5 * 1024 * 1024
TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
PREFIX = "img/"
_KEY = re.compile(r"img/([0-9a-f]{32})-([0-9a-f]{16})\.(jpg|png|webp)")


def check_request(content_type: str, size: int) -> str:
    """The file extension for a slot of this type and size; 400 otherwise."""
    ext = TYPES.get(content_type)
    if ext is None:
        raise errors.InvalidRequest(f"content_type: one of {', '.join(TYPES)}")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BYTES:
        raise errors.InvalidRequest(f"size: 1 to {MAX_BYTES} bytes")
    return ext


def new_key(random_hex: str, ext: str, sign: Callable[[str], str]) -> str:
    return f"{PREFIX}{random_hex}-{sign(random_hex + '.' + ext)[:16]}.{ext}"


def image_url(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/{key}"


def issued(url: str, base_url: str, sign: Callable[[str], str]) -> bool:
    """Whether `url` is an image URL this shop issued (under its image base, key signed)."""
    import hmac

    prefix = base_url.rstrip("/") + "/"
    if not isinstance(url, str) or not url.startswith(prefix):
        return False
    m = _KEY.fullmatch(url[len(prefix):])
    return bool(m) and hmac.compare_digest(m.group(2), sign(m.group(1) + "." + m.group(3))[:16])


def check_images(urls: list[str] | tuple[str, ...] | None, base_url: str, sign: Callable[[str], str]) -> None:
    """422 UNKNOWN_IMAGE for the first URL the shop did not issue."""
    for url in urls or ():
        if not issued(url, base_url, sign):
            raise errors.UnknownImage(f"not an image this shop issued: {str(url)[:120]}")
