"""WeChat's mini-program analysis API (数据分析, `datacube`): the daily visit trend.

`POST /datacube/getweanalysisappiddailyvisittrend?access_token=...` with
`{"begin_date": "YYYYMMDD", "end_date": "YYYYMMDD"}`: one day at a time (begin = end),
yesterday at the latest; the answer's `list` holds that day's `visit_uv` (unique
visitors), `visit_pv`, `session_cnt`, `visit_uv_new`, ... An empty `list` means no
visits. The access token is the mini-program client's (wechatpy, shared through the table).
"""

from __future__ import annotations

import requests
from wechatpy.exceptions import WeChatClientException

from layers.domain.miniprogram import WeChatApiError, WeChatUnavailable

DAILY_VISIT_TREND = "datacube/getweanalysisappiddailyvisittrend"


class DataCube:
    """`layers.domain.analytics.VisitStats` over a `layers.wechat.miniprogram.MiniProgram`."""

    def __init__(self, mini_program):
        self.client = mini_program.client

    def daily_visitors(self, day: str) -> int:
        ref = day.replace("-", "")
        try:
            answer = self.client.post(DAILY_VISIT_TREND, data={"begin_date": ref, "end_date": ref},
                                      api_base_url=self.client._base)
        except WeChatClientException as exc:
            if exc.errcode is None:
                raise WeChatUnavailable(str(exc)) from exc
            raise WeChatApiError(exc.errcode, exc.errmsg) from exc
        except requests.RequestException as exc:
            raise WeChatUnavailable(str(exc)) from exc
        rows = [r for r in answer.get("list") or () if r.get("ref_date") == ref]
        return int(rows[0].get("visit_uv") or 0) if rows else 0
