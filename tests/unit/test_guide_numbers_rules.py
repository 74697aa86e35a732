"""The pure rules behind a guide's numbers: ISO weeks (`?week=`), the export's period and
which periods it makes whole (distinct visitors only for one day, week or month), the
visitor rule (a first visit of a day settles the larger periods; a guide's own opening is
no visit; one visit per share, visitor and Beijing day without an Idempotency-Key), the
visits counted exactly per day, week, month and ever whatever the order and redelivery,
and the export file going up in parts. On DynamoDB Local: tests/integration/test_guide_numbers.py."""

from __future__ import annotations

import csv
import io
import itertools
import random
from calendar import monthrange
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.domain import analytics as rules
from layers.domain import errors
from layers.services.analytics import AnalyticsService
from tests.fakes.analytics import MemoryAnalyticsRepository
from tests.fakes.memory import MemoryStore

# -- ISO weeks -------------------------------------------------------------------------------


@pytest.mark.parametrize("week", ["2026-W01", "2026-W48", "2026-W53", "2020-W53", "2015-W53", "2027-W52"])
def test_a_week_that_exists_is_taken_as_it_is(week):
    assert rules.parse_week(week) == week


@pytest.mark.parametrize("week", [
    "2027-W53", "2025-W53", "2021-W53",  # years of 52 weeks
    "2026-W00", "2026-W54", "2026-W99",
    "2026-48", "2026-W4", "2026-W048", "W48", "2026W48", "2026-w48", " 2026-W48", "2026-W48 ", "2026-W48\n",
    "2026-W48-1", "26-W48", "", None,
    "２０２６-W48", "٢٠٢٦-W48", "2026-W４８",  # digits, but not ASCII ones: no counter is under that key
])
def test_a_malformed_or_missing_week_is_invalid(week):
    with pytest.raises(errors.InvalidRequest):
        rules.parse_week(week)


def _weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar().week  # 28 December is always in the year's last ISO week


def test_2026_has_53_iso_weeks_and_2027_has_52():
    assert date(2026, 1, 1).weekday() == 3  # a Thursday: the year that starts on one has 53 weeks
    assert (_weeks_in(2026), _weeks_in(2027)) == (53, 52)
    assert rules.week_days("2026-W53") == [f"2026-12-{d}" for d in range(28, 32)] + [f"2027-01-0{d}" for d in (1, 2, 3)]


@settings(deadline=None)
@given(st.integers(1970, 2200), st.integers(0, 60))
def test_a_week_is_accepted_exactly_when_its_year_has_it(year, week):
    value = f"{year}-W{week:02d}"
    if 1 <= week <= _weeks_in(year):
        assert rules.parse_week(value) == value
    else:
        with pytest.raises(errors.InvalidRequest):
            rules.parse_week(value)


@settings(deadline=None)
@given(st.dates(date(1990, 1, 1), date(2200, 12, 31)))
def test_every_day_is_in_the_week_its_week_names_monday_to_sunday(day):
    week = rules.week_of_day(day.isoformat())
    assert rules.parse_week(week) == week
    days = rules.week_days(week)
    assert day.isoformat() in days and len(days) == 7
    assert date.fromisoformat(days[0]).weekday() == 0 and date.fromisoformat(days[-1]).weekday() == 6
    assert all(rules.week_of_day(d) == week for d in days)


@pytest.mark.parametrize(("day", "week"), [
    ("2025-12-28", "2025-W52"), ("2025-12-29", "2026-W01"),  # 2026's first week starts in 2025
    ("2026-01-01", "2026-W01"), ("2026-01-04", "2026-W01"), ("2026-01-05", "2026-W02"),
    ("2026-12-27", "2026-W52"), ("2026-12-28", "2026-W53"), ("2027-01-01", "2026-W53"), ("2027-01-03", "2026-W53"),
    ("2027-01-04", "2027-W01"), ("2027-12-31", "2027-W52"), ("2028-01-02", "2027-W52"),
])
def test_weeks_across_the_year_boundary_are_iso_weeks(day, week):
    assert rules.week_of_day(day) == week


@pytest.mark.parametrize(("at", "day", "week", "month"), [
    ("2026-11-29T15:59:59Z", "2026-11-29", "2026-W48", "2026-11"),  # Sunday 23:59:59 in Beijing
    ("2026-11-29T16:00:00Z", "2026-11-30", "2026-W49", "2026-11"),  # Monday 00:00:00: the next week
    ("2026-11-30T15:59:59Z", "2026-11-30", "2026-W49", "2026-11"),
    ("2026-11-30T16:00:00Z", "2026-12-01", "2026-W49", "2026-12"),  # the next month, the same week
    ("2026-12-31T15:59:59Z", "2026-12-31", "2026-W53", "2026-12"),
    ("2026-12-31T16:00:00Z", "2027-01-01", "2026-W53", "2027-01"),  # the next year, still 2026's W53
    ("2027-01-03T15:59:59Z", "2027-01-03", "2026-W53", "2027-01"),
    ("2027-01-03T16:00:00Z", "2027-01-04", "2027-W01", "2027-01"),
])
def test_a_facts_day_week_and_month_turn_at_beijing_midnight(at, day, week, month):
    fact = rules.visit_fact(f"share.visited:t#{at}", "g", "v", at)
    assert rules.distributor_periods(fact) == {"day": day, "week": week, "month": month, "ever": "ALL"}


# -- months, the ranking's period ----------------------------------------------------------------

@pytest.mark.parametrize("month", ["2026-1", "2026-13", "2026-00", "2026-011", "2026/11", "2026-11-01", "２０２６-11",
                                   "2026-１1", " 2026-11", "", None])
def test_a_malformed_month_is_invalid(month):
    with pytest.raises(errors.InvalidRequest):
        rules.parse_month(month)


def test_the_ranking_takes_a_week_or_a_month_never_both_or_neither():
    assert rules.parse_period("2026-11", None) == "2026-11"
    assert rules.parse_period(None, "2026-W53") == "2026-W53"
    for month, week in (("2026-11", "2026-W48"), (None, None), (None, "2027-W53"), ("2026-1", None)):
        with pytest.raises(errors.InvalidRequest):
            rules.parse_period(month, week)


# -- the export's period --------------------------------------------------------------------------

def _span(first: str, last: str) -> list[str]:
    return rules.days(rules.parse_day(first, "from"), rules.parse_day(last, "to"))


def test_from_after_to_and_more_than_366_days_are_invalid():
    with pytest.raises(errors.InvalidRequest, match="before"):
        _span("2026-12-02", "2026-12-01")
    with pytest.raises(errors.InvalidRequest, match="before"):
        _span("2027-01-01", "2026-12-31")
    assert len(_span("2024-01-01", "2024-12-31")) == 366  # a leap year, whole
    with pytest.raises(errors.InvalidRequest, match="366"):
        _span("2024-01-01", "2025-01-01")
    for bad in ("2026-13-01", "x", "", None):
        with pytest.raises(errors.InvalidRequest):
            rules.parse_day(bad, "from")


@pytest.mark.parametrize(("first", "last", "whole"), [
    ("2026-12-06", "2026-12-06", "2026-12-06"),
    ("2026-11-23", "2026-11-29", "2026-W48"),
    ("2026-12-28", "2027-01-03", "2026-W53"),  # a week across the year boundary
    ("2025-12-29", "2026-01-04", "2026-W01"),
    ("2026-12-01", "2026-12-31", "2026-12"),
    ("2028-02-01", "2028-02-29", "2028-02"),  # leap February
    ("2027-02-01", "2027-02-28", "2027-02"),  # four weeks that are a month, not a week
    ("2026-11-24", "2026-11-30", None),  # seven days, Tuesday to Monday
    ("2026-12-01", "2026-12-30", None),
    ("2026-11-30", "2026-12-31", None),
    ("2026-12-01", "2027-01-31", None),  # two whole months
    ("2026-12-31", "2027-01-01", None),
    ("2027-02-01", "2027-03-01", None),
])
def test_the_period_is_whole_only_as_one_day_one_iso_week_or_one_month(first, last, whole):
    assert rules.whole_period(_span(first, last)) == whole


@settings(deadline=None)
@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)), st.integers(1, 70))
def test_whole_period_agrees_with_the_calendar(first, length):
    days = [(first + timedelta(days=n)).isoformat() for n in range(length)]
    last = first + timedelta(days=length - 1)
    if length == 1:
        expected = first.isoformat()
    elif first.weekday() == 0 and length == 7:
        year, week, _ = first.isocalendar()
        expected = f"{year}-W{week:02d}"
    elif first.day == 1 and last.day == monthrange(last.year, last.month)[1] and (first.year, first.month) == (
            last.year, last.month):
        expected = first.isoformat()[:7]
    else:
        expected = None
    assert rules.whole_period(days) == expected


# -- the visitor rule -----------------------------------------------------------------------------

NAMES = ("day", "week", "month", "ever")


@pytest.mark.parametrize("known", [dict(zip(NAMES[:n], values, strict=True))
                                   for n in range(4) for values in itertools.product((True, False), repeat=n)])
def test_a_larger_period_is_settled_only_by_a_smaller_one_that_was_not_the_first(known):
    for name in NAMES[len(known):]:
        settled = rules.visitor_follows(name, known)
        smaller = {"day": (), "week": ("day",), "month": ("day",), "ever": ("day", "week", "month")}[name]
        if any(known.get(s) is False for s in smaller):
            assert settled is True, (name, known)
        else:
            assert settled is None, (name, known)  # the slot is asked


def test_a_visit_moves_visits_everywhere_and_visitors_where_it_was_the_first():
    fact = rules.visit_fact("share.visited:t#v#2026-11-29", "g", "v", "2026-11-29T02:00:00Z")
    incs = rules.increments(fact, {"day": True, "week": True, "month": False, "ever": False})
    assert [(i.key.period, i.key.subject, i.add) for i in incs] == [
        ("2026-11-29", "g", {"visits": 1, "visitors": 1}), ("2026-W48", "g", {"visits": 1, "visitors": 1}),
        ("2026-11", "g", {"visits": 1, "visitors": 0}), ("ALL", "g", {"visits": 1, "visitors": 0})]
    assert all(i.key.kind == rules.DISTRIBUTOR for i in incs)
    share = rules.share_fact("share.created:t", "g", "2026-11-29T16:00:00Z")
    assert [(i.key.period, i.add) for i in rules.increments(share)] == [
        ("2026-11-30", {"shares": 1}), ("2026-W49", {"shares": 1}), ("2026-11", {"shares": 1}), ("ALL", {"shares": 1})]
    with pytest.raises(ValueError):
        rules.increments(fact, None)  # a visit without its firsts is never counted as no visitor
    with pytest.raises(ValueError):
        rules.increments(rules.visit_fact("share.visited:x", "", "v", "2026-11-29T02:00:00Z"), {})


def _analytics(store) -> AnalyticsService:
    return AnalyticsService(
        analytics=MemoryAnalyticsRepository(store), orders=None, refunds=None, user_coupons=None,
        coupon_templates=None, commission_of=lambda oid: None, send=lambda url, body: None, queue_url=None,
        visits=None, clock=SimpleNamespace(now=lambda: datetime(2026, 12, 6, tzinfo=UTC)), new_tx=store.tx,
        parallel=4)


# Moments either side of Beijing midnights that end a day, a week (Sunday 29 November), a
# month (30 November) and a year (31 December, inside 2026-W53).
MOMENTS = ["2026-11-29T15:59:59Z", "2026-11-29T16:00:00Z", "2026-11-30T15:59:59Z", "2026-11-30T16:00:00Z",
           "2026-12-31T15:59:59Z", "2026-12-31T16:00:00Z", "2027-01-03T15:59:59Z", "2027-01-03T16:00:00Z"]


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["v1", "v2", "v3"]), st.sampled_from(MOMENTS)),
                min_size=1, max_size=25),
       st.integers(1, 8), st.randoms(use_true_random=False))
def test_visits_and_distinct_visitors_are_exact_per_day_week_month_and_ever(visits, batch, rnd):
    """Visits in any order, in batches of any size, each batch delivered twice: each
    guide's counters equal a recount of the visits and of their distinct visitors."""
    store = MemoryStore()
    svc = _analytics(store)
    facts = [rules.visit_fact(f"share.visited:t-{g}#{v}#{n}", g, v, at) for n, (g, v, at) in enumerate(visits)]
    rnd.shuffle(facts)
    batches = [facts[n:n + batch] for n in range(0, len(facts), batch)] * 2
    rnd.shuffle(batches)
    for b in batches:
        svc.consume(b)
    expected: dict[tuple[str, str], list[str]] = defaultdict(list)
    for g, v, at in visits:
        for period in rules.distributor_periods(rules.visit_fact("x", g, v, at)).values():
            expected[(g, period)].append(v)
    for (g, period), seen in expected.items():
        got = svc.analytics.distributors([g], period)[g]
        assert (got.get("visits"), got.get("visitors")) == (len(seen), len(set(seen))), (g, period)


def _guide_world():
    from tests.unit.test_distribution_service import World

    w = World()
    sent = []
    w.svc.events = sent.append
    return w, sent


def test_a_guide_opening_their_own_share_is_no_visit():
    w, sent = _guide_world()
    guide = w.distributor()
    token = w.share(guide)
    w.svc.visit(guide, token)
    w.svc.visit(guide, token, "page-open-1")
    assert [e.type for e in sent] == ["share.created"]
    assert sent[0].event_id == f"share.created:{token}" and sent[0].payload["distributor_id"] == guide


def test_without_a_key_one_visit_per_share_visitor_and_beijing_day():
    from datetime import datetime

    w, sent = _guide_world()
    guide, visitor, other = w.distributor(), w.shopper(), w.shopper()
    token, second = w.share(guide), w.share(guide)
    sent.clear()
    w.clock.current = datetime(2026, 11, 29, 0, 0, 0, tzinfo=UTC)  # 08:00 Beijing
    w.svc.visit(visitor, token)
    w.clock.current = datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC)  # 23:59:59 Beijing: the same day
    w.svc.visit(visitor, token)
    w.svc.visit(other, token)
    w.svc.visit(visitor, second)
    w.clock.current = datetime(2026, 11, 29, 16, 0, 0, tzinfo=UTC)  # 00:00:00 Beijing: the next day
    w.svc.visit(visitor, token)
    ids = [e.event_id for e in sent]
    assert ids == [f"share.visited:{token}#{visitor}#2026-11-29", f"share.visited:{token}#{visitor}#2026-11-29",
                   f"share.visited:{token}#{other}#2026-11-29", f"share.visited:{second}#{visitor}#2026-11-29",
                   f"share.visited:{token}#{visitor}#2026-11-30"]
    assert len(set(ids)) == 4  # the retried call is the same event: counted once downstream
    assert all(e.payload["distributor_id"] == guide for e in sent)
    assert [e.payload["at"] for e in sent][-2:] == ["2026-11-29T15:59:59Z", "2026-11-29T16:00:00Z"]


def test_with_a_key_each_page_open_is_a_visit_and_a_retry_of_it_is_not():
    w, sent = _guide_world()
    guide, visitor = w.distributor(), w.shopper()
    token = w.share(guide)
    sent.clear()
    for key in ("open-1", "open-2", "open-1"):
        w.svc.visit(visitor, token, key)
    assert [e.event_id for e in sent] == [f"share.visited:{token}#{visitor}#open-1",
                                          f"share.visited:{token}#{visitor}#open-2",
                                          f"share.visited:{token}#{visitor}#open-1"]
    with pytest.raises(errors.NotFound):
        w.svc.visit(visitor, "s_nosuchshare0000000000")
    assert len(sent) == 3


# -- the period export ----------------------------------------------------------------------------

class _Client:
    """The multipart calls of boto3's S3 client, kept in memory."""

    def __init__(self):
        self.parts: dict[int, bytes] = {}
        self.done = self.aborted = None

    def create_multipart_upload(self, **kw):
        return {"UploadId": "up-1"}

    def upload_part(self, PartNumber, Body, **kw):  # noqa: N803 - boto's names
        self.parts[PartNumber] = Body
        return {"ETag": f"e{PartNumber}"}

    def complete_multipart_upload(self, MultipartUpload, **kw):  # noqa: N803
        self.done = [p["PartNumber"] for p in MultipartUpload["Parts"]]

    def abort_multipart_upload(self, **kw):
        self.aborted = True


@settings(deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(1, 64))
def test_a_file_goes_up_in_full_parts_and_a_last_one(chunks, part_bytes):
    from layers.storage.exports import PartWriter

    client = _Client()
    out = PartWriter(client, "b", "exports/x.csv", "text/csv", part_bytes)
    for chunk in chunks:
        out.write(chunk)
        assert len(out.buf) < part_bytes  # never more than a part held
    out.close()
    whole = b"".join(chunks)
    assert b"".join(client.parts[n] for n in client.done) == whole
    assert client.done == list(range(1, len(client.parts) + 1)) and len(client.done) >= 1
    assert all(len(client.parts[n]) == part_bytes for n in client.done[:-1])


class _Exports:
    def __init__(self):
        self.files: dict[str, bytes] = {}

    def open(self, key, content_type):
        files = self.files
        return SimpleNamespace(buf=bytearray(), write=lambda d: files.__setitem__(key, files.get(key, b"") + d),
                               close=lambda: None, abort=lambda: files.pop(key, None))

    def url(self, key, filename):
        return f"https://bucket/{key}?as={filename}"


def _rows(exports: _Exports, url: str) -> list[dict]:
    key = url.split("https://bucket/")[1].split("?")[0]
    return list(csv.DictReader(io.StringIO(exports.files[key].decode())))


def test_the_export_sums_days_and_whole_months_across_the_year_and_gives_visitors_only_for_a_whole_period():
    store = MemoryStore()
    svc = _analytics(store)
    svc.exports = _Exports()
    rnd = random.Random(3)
    sales, facts = defaultdict(int), []
    day = date(2026, 11, 25)
    while day <= date(2027, 2, 3):  # part of November, all of December and January, part of February
        at = f"{day.isoformat()}T02:00:00Z"
        for guide in ("a", "b"):
            amount = rnd.randint(1, 9) * (300 if guide == "a" else 100)
            facts.append(rules.Fact(f"order.paid:{guide}{day}", rules.SALE, at, f"buyer-{day}", amount,
                                    f"o-{guide}{day}", distributor_id=guide, commission=amount // 10))
            facts.append(rules.visit_fact(f"share.visited:{guide}#{day}", guide, "v1", at))
            sales[(guide, day.isoformat())] = amount
        day += timedelta(days=1)
    for n in range(0, len(facts), 20):
        svc.consume(facts[n:n + 20])

    def expect(guide, first, last):
        return sum(v for (g, d), v in sales.items() if g == guide and first <= d <= last)

    rows = _rows(svc.exports, svc.export_distributors("2026-12-15", "2027-01-20"))
    assert [r["distributor_id"] for r in rows] == ["a", "b"]  # the higher sales first
    for r in rows:
        assert int(r["sales_amount"]) == expect(r["distributor_id"], "2026-12-15", "2027-01-20")
        assert (int(r["orders"]), int(r["visits"]), r["visitors"]) == (37, 37, "")
        assert (r["from"], r["to"]) == ("2026-12-15", "2027-01-20")
    rows = _rows(svc.exports, svc.export_distributors("2026-11-25", "2027-02-03"))  # whole Dec and Jan inside
    assert {r["distributor_id"]: int(r["sales_amount"]) for r in rows} == {
        g: expect(g, "2026-11-25", "2027-02-03") for g in "ab"}
    rows = _rows(svc.exports, svc.export_distributors("2026-12-28", "2027-01-03"))  # 2026-W53
    assert [(int(r["visits"]), r["visitors"]) for r in rows] == [(7, "1"), (7, "1")]
    rows = _rows(svc.exports, svc.export_distributors("2027-01-01", "2027-01-31"))
    assert [(int(r["visits"]), r["visitors"]) for r in rows] == [(31, "1"), (31, "1")]
    before = dict(svc.exports.files)
    with pytest.raises(errors.InvalidRequest):
        svc.export_distributors("2027-01-02", "2027-01-01")
    assert svc.exports.files == before  # a bad period writes nothing
    svc.exports = None
    with pytest.raises(errors.ExportsUnavailable):
        svc.export_distributors("2027-01-01", "2027-01-02")
