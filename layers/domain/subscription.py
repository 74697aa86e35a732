"""Subscription message (订阅消息) values, in the forms WeChat's keyword types accept.

A template's keyword is named by its type and a number (`thing1`, `time2`, `amount3`);
WeChat refuses a value that does not fit its type (47003). Times are Beijing time in
the `time`/`date` form (`2026年11月29日 18:05`); amounts are yuan with two decimals from
integer fen (`12.30元`); text is cut to its type's length.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))

# The longest value each keyword type takes (characters).
MAX_LENGTH = {
    "thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "phone_number": 17,
    "car_number": 8, "name": 10, "phrase": 5,
}
# 47003: WeChat refused the data of the message (a value does not fit its keyword).
DATA_REFUSED = 47003


def keyword_type(keyword: str) -> str:
    return re.sub(r"\d+$", "", keyword)


def beijing(value: str | datetime) -> str:
    """`2026年11月29日 18:05` in Beijing time, from an RFC 3339 time or a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a time zone is required")
    bj = value.astimezone(BEIJING)
    return f"{bj.year}年{bj.month}月{bj.day}日 {bj.hour:02d}:{bj.minute:02d}"


def yuan(fen: int) -> str:
    """`12.30元` from 1230 fen (integer arithmetic: no float ever rounds a fen away)."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}元"


def value(keyword: str, raw) -> str:
    """`raw` in the form `keyword`'s type takes: times and dates (RFC 3339 or datetime) in
    Beijing time, amounts from fen, text cut to length."""
    kind = keyword_type(keyword)
    if kind in ("time", "date"):
        return beijing(raw)
    if kind == "amount":
        return yuan(raw)
    text = str(raw)
    limit = MAX_LENGTH.get(kind)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…" if kind == "thing" else text[:limit]
    return text


def data(**values) -> dict:
    """The `data` of subscribe/send: `{"thing1": {"value": ...}, ...}`."""
    return {keyword: {"value": value(keyword, raw)} for keyword, raw in values.items()}
