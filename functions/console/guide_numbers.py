"""分销 → 业绩: the guides' numbers. The sales stars of an ISO week and of a month (the
same rankings as `GET /admin/analytics/distributors?week=` / `?month=`, drawn with the
dashboard's ECharts), and the period export (`GET /admin/distributors.csv?from=&to=`):
the file is written to the exports bucket and the browser is sent on to its link."""

from __future__ import annotations

from functions import wiring
from functions.console._kit import _query, console_page, redirect
from layers.domain import errors

STARS = 10  # the guides a ranking shows


@console_page("/console/guide-numbers")
def guide_numbers(ctx):
    from layers.clock import iso
    from layers.domain.analytics import day_of, week_of_day

    today = day_of(iso(wiring.clock().now()))
    week, month = _query("week") or week_of_day(today), _query("month") or today[:7]
    svc = wiring.analytics()
    try:
        weekly = svc.distributors(None, STARS, week=week)["items"]
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest("周的格式是 2026-W48(请用周选择器)") from exc
    try:
        monthly = svc.distributors(month, STARS)["items"]
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest("月份的格式是 2026-11(请用月份选择器)") from exc
    return ctx.page("guide_numbers.html", week=week, month=month, weekly=weekly, monthly=monthly,
                    first=_query("from") or today[:8] + "01", last=_query("to") or today)


@console_page("/console/guide-numbers/export")
def guide_numbers_export(ctx):
    """The period's file, written now; the browser follows to its link (a few minutes)."""
    first, last = _query("from"), _query("to")
    if not first or not last:
        raise errors.InvalidRequest("请选择开始和结束日期")
    from datetime import date

    # The usual mistakes said in Chinese, not the API's English words inside a Chinese page.
    try:
        if date.fromisoformat(last) < date.fromisoformat(first):
            raise errors.InvalidRequest(f"日期范围不对:结束日期 {last} 早于开始日期 {first}")
    except ValueError as exc:
        raise errors.InvalidRequest("日期的格式是 2026-12-01(请用日期选择器)") from exc
    try:
        url = wiring.analytics().export_distributors(first, last)
    except errors.ExportsUnavailable as exc:
        raise errors.ExportsUnavailable("导出暂不可用:没有配置存放文件的存储桶") from exc
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest("日期范围不对:一次最多导出 366 天") from exc
    return redirect(url)
