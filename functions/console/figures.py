"""数据: the channels (渠道) and the rankings, each a chart (ECharts, `data-bars`, drawn by
static/console.js) above its table. The same service calls as the JSON API:
`/admin/analytics/channels`, `/products`, `/distributors` and `/coupons`.

A chart's data is computed here, in the unit a person reads (元, not fen): the script
only draws what the page carries, so what the chart and the table show is one thing."""

from __future__ import annotations

from functions import wiring
from functions.console._kit import _query, console_page
from layers.domain import errors

CHART_ROWS = 15  # the bars a chart shows (the table lists them all)
DISTRIBUTOR_ROWS = 100


def _range(default_days: int = 7) -> tuple[str, str]:
    """The from/to of the page's date pickers: the last `default_days` Beijing days by default."""
    from datetime import timedelta

    from layers.clock import iso
    from layers.domain.analytics import day_of

    now = wiring.clock().now()
    return (_query("from") or day_of(iso(now - timedelta(days=default_days - 1))),
            _query("to") or day_of(iso(now)))


def _days_error(exc: errors.InvalidRequest) -> errors.InvalidRequest:
    return errors.InvalidRequest("日期范围不对:请选择开始和结束日期,结束日期不能早于开始日期,最多 366 天")


def _bars(labels: list[str], series: list[tuple[str, str, list]]) -> dict:
    """A horizontal bar chart: one bar group per label, the first on top; each series
    (name, axis unit, values) on the axis of its unit (at most two units)."""
    units = list(dict.fromkeys(unit for _, unit, _ in series))
    return {"labels": labels[:CHART_ROWS], "units": units,
            "series": [{"name": name, "axis": units.index(unit), "data": values[:CHART_ROWS]}
                       for name, unit, values in series]}


@console_page("/console/channels")
def channels_page(ctx):
    first, last = _range()
    try:
        rows = wiring.analytics().channels(first, last)["items"]
    except errors.InvalidRequest as exc:
        raise _days_error(exc) from exc
    chart = _bars([r["channel"] for r in rows], [("成交额(元)", "元", [r["gmv"] / 100 for r in rows]),
                                                 ("访客(人)", "人", [r["visitors"] for r in rows])])
    return ctx.page("channels.html", rows=rows, first=first, last=last, chart=chart, one_period=_one_period(first, last))


def _one_period(first: str, last: str) -> bool:
    """One day or one calendar month: visitors and buyers are distinct over it."""
    from calendar import monthrange
    from datetime import date

    if first == last:
        return True
    try:
        a, b = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return False
    return a.day == 1 and (a.year, a.month) == (b.year, b.month) and b.day == monthrange(b.year, b.month)[1]


@console_page("/console/product-ranking")
def product_ranking(ctx):
    first, last = _range()
    try:
        rows = wiring.analytics().products(first, last)["items"]
    except errors.InvalidRequest as exc:
        raise _days_error(exc) from exc
    chart = _bars([r["title"] or r["product_id"] for r in rows], [("成交额(元)", "元", [r["gmv"] / 100 for r in rows]),
                                                                ("销量(件)", "件", [r["quantity"] for r in rows])])
    return ctx.page("product_ranking.html", rows=rows, first=first, last=last, chart=chart)


@console_page("/console/distributor-ranking")
def distributor_ranking(ctx):
    from layers.clock import iso
    from layers.domain.analytics import day_of

    week, month = _query("week"), _query("month")
    if not week and not month:
        month = day_of(iso(wiring.clock().now()))[:7]
    try:
        answer = wiring.analytics().distributors(month if not week else None, DISTRIBUTOR_ROWS, week=week)
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest("请选择一个月份(2026-11)或一周(2026-W48)") from exc
    rows = answer["items"]
    chart = _bars([r["distributor_id"] for r in rows], [("成交额(元)", "元", [r["sales_amount"] / 100 for r in rows]),
                                                        ("佣金(元)", "元", [r["commission"] / 100 for r in rows])])
    return ctx.page("distributor_ranking.html", rows=rows, period=answer["period"], week=week or "",
                    month=month or "", chart=chart)


@console_page("/console/coupon-ranking")
def coupon_ranking(ctx):
    rows = wiring.analytics().coupons()["items"]
    templates = wiring.coupon_template_repository()
    names = {}
    for r in rows:
        template = templates.get(r["template_id"])
        names[r["template_id"]] = template.name if template is not None else r["template_id"]
    rows = sorted(rows, key=lambda r: (-r["gmv"], -r["used"], r["template_id"]))
    chart = _bars([names[r["template_id"]] for r in rows], [("带动成交额(元)", "元", [r["gmv"] / 100 for r in rows]),
                                                            ("优惠金额(元)", "元", [r["discount"] / 100 for r in rows])])
    return ctx.page("coupon_ranking.html", rows=rows, names=names, chart=chart)
