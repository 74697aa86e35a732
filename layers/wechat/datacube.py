"""WeChat's mini-program analysis API (数据分析, `datacube`): the daily visit trend.

`POST /datacube/getweanalysisappiddailyvisittrend?access_token=...` with
`{"begin_date": "YYYYMMDD", "end_date": "YYYYMMDD"}`: one day at a time (begin = end),
yesterday at the latest; the answer's `list` holds that day's `visit_uv` (unique
visitors), `visit_pv`, `session_cnt`, `visit_uv_new`, ... An empty `list` (or none for the
day) means WeChat has not made the day's figures yet, not that nobody visited: the job asks
again. The call goes through the mini-program client's `_call` (the token shared through
the table; a 40001 refreshes it once and retries once): wechatpy's own retry would fetch a
token of its own, which this app's client refuses to do.
"""

from __future__ import annotations

from layers.domain.analytics import VisitsNotReady

DAILY_VISIT_TREND = "/datacube/getweanalysisappiddailyvisittrend"


class DataCube:
    """`layers.domain.analytics.VisitStats` over a `layers.wechat.miniprogram.MiniProgram`."""

    def __init__(self, mini_program):
        self.mini_program = mini_program

    def daily_visitors(self, day: str) -> int:
        """WeChatApiError (its errcode) or WeChatUnavailable when not answered."""
        ref = day.replace("-", "")
        answer = self.mini_program._call(DAILY_VISIT_TREND, {"begin_date": ref, "end_date": ref})
        rows = [r for r in answer.get("list") or () if r.get("ref_date") == ref]
        if not rows:
            raise VisitsNotReady(day)
        return int(rows[0].get("visit_uv") or 0)
