"""The sandbox's mini-program analysis API (datacube): the daily visit trend.

Written from WeChat's documentation of `getweanalysisappiddailyvisittrend`: an access
token is required (41001 without) and must be the current one (40001 otherwise, as every
token-bearing API: 全局返回码 "access_token 无效或不是最新的"), dates are `YYYYMMDD`, `begin_date` must equal
`end_date` and be yesterday or earlier in Beijing time (61501 "date range error"
otherwise; 61500 for a malformed date). The figures are what a test set with
`set_visits(box, day, visit_uv)`, or a number derived from the date.

A day's figures are made by WeChat some time after the day ends; until then the answer is
`{"list": []}` (docs unclear: the page does not say when yesterday's figures appear; an
empty list for a day not made yet is what merchants see). `visits_pending(box, day)` holds
a day's figures back so.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
DAILY_VISIT_TREND = "/datacube/getweanalysisappiddailyvisittrend"


def _visits(box) -> dict[str, int]:
    return box.__dict__.setdefault("datacube_visits", {})


def set_visits(box, day: str, visit_uv: int) -> None:
    """Yesterday's (or any past day's) unique visitors, `day` as YYYY-MM-DD."""
    _visits(box)[day.replace("-", "")] = visit_uv


def visits_pending(box, day: str, pending: bool = True) -> None:
    """WeChat has not made `day`'s figures yet (YYYY-MM-DD): an empty list until released."""
    held = box.__dict__.setdefault("datacube_pending", set())
    (held.add if pending else held.discard)(day.replace("-", ""))


def handle(box, method: str, path: str, query: dict, body: bytes):
    """(status, payload, signed) for a `/datacube/...` request."""
    if not query.get("access_token"):
        return 200, {"errcode": 41001, "errmsg": "access_token missing"}, False
    if path != DAILY_VISIT_TREND or method != "POST":
        return 404, {"errcode": 404, "errmsg": "unknown api"}, False
    if not box.mp._token_ok(query.get("access_token")):
        return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}, False
    try:
        data = json.loads(body or b"{}")
        begin, end = str(data["begin_date"]), str(data["end_date"])
        first = datetime.strptime(begin, "%Y%m%d").date()
        datetime.strptime(end, "%Y%m%d")
    except (ValueError, KeyError, TypeError):
        return 200, {"errcode": 61500, "errmsg": "date format error"}, False
    today = datetime.now(UTC).astimezone(BEIJING).date()
    if begin != end or first >= today:
        return 200, {"errcode": 61501, "errmsg": "date range error"}, False
    if begin in box.__dict__.get("datacube_pending", ()):
        return 200, {"list": []}, False
    uv = _visits(box).get(begin)
    if uv is None:
        uv = 100 + int(hashlib.sha256(begin.encode()).hexdigest()[:4], 16) % 900
    return 200, {"list": [{"ref_date": begin, "session_cnt": uv * 2, "visit_pv": uv * 5, "visit_uv": uv,
                           "visit_uv_new": uv // 4, "stay_time_uv": 60.5, "stay_time_session": 30.2,
                           "visit_depth": 2.1}]}, False
