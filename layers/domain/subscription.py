"""Subscription message (订阅消息) values, in the forms WeChat's keyword types accept,
and each template's layout: which keyword carries which value.

A template's keyword is named by its type and a number (`thing1`, `time2`, `amount3`);
WeChat refuses a value that does not fit its type (47003). Times are Beijing time in
the `time`/`date` form (`2026年11月29日 18:05`); amounts are yuan with two decimals from
integer fen (`12.30元`); text is cut to its type's length.

The keywords are the merchant's: each template in their WeChat account numbers its own
(one 待付款提醒 has `character_string1`, another `character_string2`), and a send whose
keywords are not the template's is refused (47003) every time. So the settings say, per
message, which keyword carries each of its values (`fields`); `DEFAULT_FIELDS` is the
layout the shop used before the settings could say it. Keyword kinds and their limits:
sendMessage, "订阅消息参数值内容限制说明",
https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))

# The longest value each keyword type takes (characters).
MAX_LENGTH = {
    "thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "phone_number": 17,
    "car_number": 8, "name": 10, "phrase": 5,
}
# 47003: WeChat refused the data of the message (a value does not fit its keyword).
DATA_REFUSED = 47003


# A keyword: one of WeChat's kinds followed by its number (`thing1`, `number01`).
KEYWORD = re.compile(r"(thing|number|letter|symbol|character_string|time|date|amount|phone_number|car_number"
                     r"|name|phrase)([0-9]{1,3})", re.ASCII)

# What a value is, and the keyword kinds that show it as the shopper should read it (an
# order number cut to a `thing`'s 20 characters, or fen in a `number`, would mislead).
ID, MONEY, TIME, TEXT = "id", "money", "time", "text"
SHOWN_IN = {ID: ("character_string",), MONEY: ("amount", "thing"), TIME: ("time", "date", "thing"),
            TEXT: ("thing",)}

# Each message's values: name -> (what it is, whether the message needs it).
MESSAGES: dict[str, dict[str, tuple[str, bool]]] = {
    "order_unpaid": {"order_id": (ID, True), "amount": (MONEY, True), "expires_at": (TIME, True)},
    "order_paid": {"order_id": (ID, True), "amount": (MONEY, True), "note": (TEXT, False)},
    "coupon_expiring": {"coupon_name": (TEXT, True), "valid_until": (TIME, True)},
    "flash_sale_start": {"title": (TEXT, False), "starts_at": (TIME, True)},
    "group_expiring": {"note": (TEXT, True), "expires_at": (TIME, True)},
    # after-sales: approved (a return carries where to send the goods), refunded, rejected
    "after_sale_approved": {"order_id": (ID, True), "note": (TEXT, True), "address": (TEXT, False)},
    "after_sale_refunded": {"order_id": (ID, True), "amount": (MONEY, True), "note": (TEXT, False)},
    "after_sale_rejected": {"order_id": (ID, True), "reason": (TEXT, True)},
    "coupon_received": {"coupon_name": (TEXT, True), "valid_until": (TIME, True), "note": (TEXT, False)},
    # a paid pickup order not collected yet, the day before it is refunded
    "pickup_expiring": {"order_id": (ID, True), "note": (TEXT, True), "expires_at": (TIME, True)},
}
DEFAULT_FIELDS: dict[str, dict[str, str]] = {
    "order_unpaid": {"order_id": "character_string1", "amount": "amount2", "expires_at": "time3"},
    "order_paid": {"order_id": "character_string1", "amount": "amount2", "note": "thing3"},
    "coupon_expiring": {"coupon_name": "thing1", "valid_until": "time2"},
    "flash_sale_start": {"title": "thing1", "starts_at": "time2"},
    "group_expiring": {"note": "thing1", "expires_at": "time2"},
    "after_sale_approved": {"order_id": "character_string1", "note": "thing2", "address": "thing3"},
    "after_sale_refunded": {"order_id": "character_string1", "amount": "amount2", "note": "thing3"},
    "after_sale_rejected": {"order_id": "character_string1", "reason": "thing2"},
    "coupon_received": {"coupon_name": "thing1", "valid_until": "time2", "note": "thing3"},
    "pickup_expiring": {"order_id": "character_string1", "note": "thing2", "expires_at": "time3"},
}


def layout_problems(message: str, fields: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """What is wrong with `fields` (value name -> keyword) for `message`: value name ->
    (code, why). Codes: `unknown_value`, `not_a_keyword`, `wrong_kind`, `duplicate`, `missing`."""
    values = MESSAGES[message]
    problems: dict[str, tuple[str, str]] = {}
    taken: dict[str, str] = {}
    for name, keyword in fields.items():
        if name not in values:
            problems[name] = ("unknown_value", f"not a value of this message (it carries {', '.join(values)})")
            continue
        match = KEYWORD.fullmatch(keyword) if isinstance(keyword, str) else None
        if match is None:
            problems[name] = ("not_a_keyword", f"{keyword!r} is not a WeChat keyword: a kind (thing, number, "
                              "letter, symbol, character_string, time, date, amount, phone_number, car_number, "
                              "name, phrase) followed by its number, as in thing1")
            continue
        shown_in = SHOWN_IN[values[name][0]]
        if match.group(1) not in shown_in:
            problems[name] = ("wrong_kind", f"{keyword} cannot show it: use a keyword of kind "
                              f"{' or '.join(shown_in)}")
        elif keyword in taken:
            problems[name] = ("duplicate", f"{keyword} already carries {taken[keyword]}")
        else:
            taken[keyword] = name
    for name, (_, needed) in values.items():
        if needed and name not in fields:
            problems[name] = ("missing", "the message needs it: give the keyword that carries it")
    return problems


def message_data(message: str, fields: Mapping[str, str], values: Mapping[str, object]) -> dict:
    """The `data` of subscribe/send for `message` laid out by `fields`: each value the
    layout places, in the form its keyword takes (a value the layout leaves out is not sent)."""
    kinds = MESSAGES[message]
    out = {}
    for name, keyword in fields.items():
        if name not in values or values[name] is None:
            continue
        raw = values[name]
        kind = kinds[name][0]
        if kind == TIME:
            text = beijing(raw)
        elif kind == MONEY:
            text = yuan(raw)
        else:
            text = value(keyword, raw)
        out[keyword] = {"value": text}
    return out


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
