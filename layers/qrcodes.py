"""QR images for what a person shows on their phone (a pickup code): a PNG as a data URL.

`segno` (pure Python, no dependencies) is imported on the first image, not with the
module: a cold start that shows no pickup code never loads it. A data URL, not an object
in the code bucket: the image is a few hundred bytes, made in about a millisecond, and a
shopper's code never leaves their own order's answer (no URL that others could fetch)."""

from __future__ import annotations

import base64
import io


def data_url(text: str, scale: int = 6) -> str:
    import segno

    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=scale, border=2)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
