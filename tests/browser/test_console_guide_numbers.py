"""分销 → 业绩 in Chromium, at a laptop's width and a phone's: two guides' sales, shares and
visits in a June and a July of a year of the test's own (rankings are shop-wide keys);
the weekly and monthly stars (the chart drawn, the table's first guide, yuan), the week
and month pickers moving both, the period export from the date pickers downloaded and
its rows agreeing with what was done, a reversed period refused in Chinese with nothing
written to the bucket; and each guide's page with their shares, visits and visitors.

Shares and visits go the real way (the distribution service at a moved clock, their
events through the events consumer, the facts through the analytics consumer); the paid
orders are sale facts given to the analytics consumer (paying through WeChat happens now,
never in that year)."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime

import pytest

from tests.browser.test_console import owner_signs_in
from tests.helpers import login
from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
from tests.integration.test_distribution import new_distributor, new_template, share, uid
from tests.integration.test_payments import drain_events_queue

pytestmark = pytest.mark.integration


def _at(mp, day: date) -> str:
    """10:00 in Beijing on `day`, the clock moved there."""
    from layers import clock

    moment = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
    mp.setattr(clock, "now", lambda: moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed(client, admin_headers, shop) -> dict:
    from functions import wiring
    from functions.analytics import consume_batch
    from layers.domain import analytics as rules
    from layers.events import handle_event_batch

    year = random.randint(2200, 9000)
    june, july = date.fromisocalendar(year, 24, 3), date.fromisocalendar(year, 29, 3)  # Wednesdays
    template = new_template(client, admin_headers)
    a, b = new_distributor(client, admin_headers, template), new_distributor(client, admin_headers, template)
    v1, v2, v3 = (login(client) for _ in range(3))
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])
    svc = wiring.distribution()
    facts = []
    with pytest.MonkeyPatch.context() as mp:
        at = _at(mp, june)
        a1, a2, b1 = share(client, a), share(client, a), share(client, b)
        for visitor, token in ((v1, a1), (v2, a1), (v1, a2), (v1, a1), (v3, b1)):  # (v1, a1) again: a retry
            svc.visit(uid(visitor), token)
        svc.visit(uid(a), a1)  # a guide opening their own share: no visit
        for n, (guide, amount) in enumerate(((a, 15000), (a, 15000), (b, 10000))):
            facts.append(rules.Fact(f"order.paid:gn{year}j{n}", rules.SALE, at, uid(v2), amount, f"gn{year}j{n}",
                                    distributor_id=uid(guide), commission=amount // 10))
        at = _at(mp, july)
        for visitor in (v1, v2):
            svc.visit(uid(visitor), b1)
        for n, (guide, amount) in enumerate(((a, 5000), (b, 25000), (b, 25000))):
            facts.append(rules.Fact(f"order.paid:gn{year}k{n}", rules.SALE, at, uid(v3), amount, f"gn{year}k{n}",
                                    distributor_id=uid(guide), commission=amount // 10))
    guides = {uid(a), uid(b)}
    events = [json.dumps(m) for m in drain_events_queue(shop["sqs"])
              if m["type"].startswith("share.") and m["payload"].get("distributor_id") in guides]
    assert len(events) == 3 + 4 + 1 + 2  # the retried visit published again: the same event id
    assert handle_event_batch(_sqs_event(events), wiring.event_handlers()) == {"batchItemFailures": []}
    messages = [f for f in _drain_analytics_queue(shop["sqs"]) if json.loads(f).get("distributor_id") in guides]
    messages += [json.dumps(f.to_message()) for f in facts]
    for n in range(0, len(messages), 10):
        assert consume_batch(_sqs_event(messages[n:n + 10])) == {"batchItemFailures": []}
    return {"year": year, "june": june, "july": july, "a": uid(a), "b": uid(b)}


def _stars(page, which: str) -> list[dict]:
    rows = page.locator(f"#{which} tbody tr[data-distributor]")
    out = []
    for n in range(rows.count()):
        cells = rows.nth(n).locator("td").all_inner_texts()
        out.append(dict(zip(("rank", "guide", "sales", "orders", "commission", "shares", "visits", "visitors"),
                            [c.strip() for c in cells], strict=True)))
    return out


def _chart_best(page, which: str) -> tuple[str, float]:
    """The top bar of the ranking's chart: (guide, yuan), as ECharts holds them."""
    page.locator(f"#{which}-chart[data-drawn='true'] canvas").first.wait_for()
    option = page.evaluate(f"() => echarts.getInstanceByDom(document.getElementById('{which}-chart')).getOption()")
    return option["yAxis"][0]["data"][-1], option["series"][0]["data"][-1]


def _exports_in_bucket() -> set[str]:
    from functions import wiring

    ex = wiring.exports()
    found = ex.client.list_objects_v2(Bucket=ex.bucket, Prefix="exports/")
    return {o["Key"] for o in found.get("Contents", [])}


def test_weekly_and_monthly_stars_the_pickers_and_the_period_export(browser_page, console_url, client, admin_headers,
                                                                    shop):
    page = browser_page
    s = _seed(client, admin_headers, shop)
    a, b, year = s["a"], s["b"], s["year"]
    owner_signs_in(page, console_url, "/console/guide-numbers")
    assert page.locator("nav.side a.active").get_attribute("href") == "/console/guide-numbers"

    # June's week and month: A leads
    page.fill("#period-form input[name=week]", f"{year}-W24")
    page.fill("#period-form input[name=month]", f"{year}-06")
    page.click("#period-form button[type=submit]")
    page.wait_for_url(lambda u: u.endswith(f"?week={year}-W24&month={year}-06"))
    assert f"{year}-W24" in page.inner_text("h2:has(+ #weekly-chart)")
    for which in ("weekly", "monthly"):
        rows = _stars(page, which)
        assert [(r["rank"], r["guide"]) for r in rows] == [("1", a), ("2", b)], which
        assert (rows[0]["sales"], rows[0]["orders"], rows[0]["commission"]) == ("¥300.00", "2", "¥30.00")
        assert (rows[0]["shares"], rows[0]["visits"], rows[0]["visitors"]) == ("2", "3", "2")
        assert (rows[1]["sales"], rows[1]["shares"], rows[1]["visits"], rows[1]["visitors"]) == (
            "¥100.00", "1", "1", "1")
        assert _chart_best(page, which) == (a, 300)
        assert page.locator(f"#{which}-chart").is_visible()

    # July's: B leads, and A made no share there
    page.fill("#period-form input[name=week]", f"{year}-W29")
    page.fill("#period-form input[name=month]", f"{year}-07")
    page.click("#period-form button[type=submit]")
    page.wait_for_url(lambda u: u.endswith(f"?week={year}-W29&month={year}-07"))
    for which in ("weekly", "monthly"):
        rows = _stars(page, which)
        assert [r["guide"] for r in rows] == [b, a], which
        assert (rows[0]["sales"], rows[0]["orders"], rows[0]["visits"], rows[0]["visitors"]) == (
            "¥500.00", "2", "2", "2")
        assert (rows[1]["sales"], rows[1]["shares"], rows[1]["visits"]) == ("¥50.00", "0", "0")
        assert _chart_best(page, which) == (b, 500)
    # a week of no guide: no chart, the table says so
    page.fill("#period-form input[name=week]", f"{year}-W40")
    page.click("#period-form button[type=submit]")
    page.wait_for_url(lambda u: f"week={year}-W40" in u)
    assert page.locator("#weekly tbody tr[data-distributor]").count() == 0
    assert "还没有" in page.inner_text("#weekly") and page.locator("#weekly-chart").is_hidden()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1

    # the export of June and July: summed, B first, visitors left empty (two months)
    page.fill("#export-form input[name=from]", f"{year}-06-01")
    page.fill("#export-form input[name=to]", f"{year}-07-31")
    with page.expect_download() as download:
        page.click("#export-form button[type=submit]")
    got = download.value
    assert got.suggested_filename == f"distributors-{year}-06-01-{year}-07-31.csv"
    rows = list(csv.DictReader(io.StringIO(open(got.path(), encoding="utf-8").read())))
    mine = [r for r in rows if r["distributor_id"] in (a, b)]
    assert [(r["distributor_id"], r["from"], r["to"], r["sales_amount"], r["orders"], r["commission"], r["shares"],
             r["visits"], r["visitors"]) for r in mine] == [
        (b, f"{year}-06-01", f"{year}-07-31", "60000", "3", "6000", "1", "3", ""),
        (a, f"{year}-06-01", f"{year}-07-31", "35000", "3", "3500", "2", "3", "")]
    # one month: its distinct visitors too
    page.fill("#export-form input[name=from]", f"{year}-06-01")
    page.fill("#export-form input[name=to]", f"{year}-06-30")
    with page.expect_download() as download:
        page.click("#export-form button[type=submit]")
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [(r["distributor_id"], r["sales_amount"], r["visits"], r["visitors"]) for r in rows
            if r["distributor_id"] in (a, b)] == [(a, "30000", "3", "2"), (b, "10000", "1", "1")]

    # a reversed period: said in Chinese, nothing written
    before = _exports_in_bucket()
    page.fill("#export-form input[name=from]", f"{year}-07-31")
    page.fill("#export-form input[name=to]", f"{year}-06-01")
    page.click("#export-form button[type=submit]")
    page.wait_for_url(lambda u: "/console/guide-numbers/export?" in u)
    message = page.inner_text("#error-message")
    assert "结束日期" in message and "早于开始日期" in message, message
    assert not any(word in message for word in ("before", "from", " to ")), message
    assert _exports_in_bucket() == before


def test_a_guides_page_shows_their_shares_visits_and_visitors(browser_page, console_url, client, admin_headers, shop):
    page = browser_page
    s = _seed(client, admin_headers, shop)
    owner_signs_in(page, console_url, f"/console/distributors/{s['a']}")
    assert page.inner_text("#guide-id") == s["a"]
    assert page.inner_text("#guide-reach") == "分享 2 次 · 被打开 3 次 · 访客 2 人(累计)"
    page.goto(f"{console_url}/console/distributors/{s['b']}")
    assert page.inner_text("#guide-reach") == "分享 1 次 · 被打开 3 次 · 访客 3 人(累计)"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1
