"""Customers on DynamoDB Local: the record kept from the events (one write per event, a
redelivered event changes nothing, concurrent events all counted), the list's filters
together and its bound, tags and their members, the retag job; and through HTTP, the phone
number from the WeChat sandbox, sealed, found by number or last four, removed, never logged."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from layers.domain import errors
from layers.domain.customers import Filters
from tests.analytics_world import dynamo_world, random_year
from tests.helpers import body, login, post, put

pytestmark = pytest.mark.integration


def _user() -> str:
    return "u_" + uuid.uuid4().hex[:12]


class _Phones:
    def get_phone_number(self, code):  # the HTTP tests use the sandbox; these never ask
        raise AssertionError("not asked here")


@pytest.fixture
def world(dynamodb):
    from layers.services.customers import CustomerService
    from layers.storage.customers import DynamoCustomerRepository

    w = dynamo_world()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    w.now = now
    w.levels = {}
    w.repo = DynamoCustomerRepository()
    w.customers = CustomerService(customers=w.repo, orders=w.orders, phone_api=_Phones(),
                                  level_of=lambda uid: w.levels.get(uid), clock=SimpleNamespace(now=lambda: w.now))
    return w


def paid(world, user, at, price, shipping=0, distributor_id=None):
    order = world.paid(user, at, [("p1", 1, price)], shipping=shipping, distributor_id=distributor_id)
    world.customers.on_order_paid(f"order.paid:{order.order_id}", {"order_id": order.order_id})
    return order


def refunded(world, order, amount):
    refund_id = world.refund(order.order_id, amount, order_time(order) + timedelta(days=1))
    current = world.orders.get(order.order_id, consistent=True)
    payload = {"order_id": order.order_id, "refund_id": refund_id, "amount": amount,
               "refunded_total": current.refunded_amount, "user_id": order.user_id}
    world.customers.on_order_refunded(f"order.refunded:{refund_id}", payload)
    return refund_id, payload


def order_time(order):
    return datetime.fromisoformat(order.paid_at.replace("Z", "+00:00"))


# -- the record ---------------------------------------------------------------------------------

def test_paid_orders_and_refunds_keep_the_record_and_a_redelivery_changes_nothing(world):
    user, year = _user(), random_year()
    world.levels[user] = "金卡"
    first = paid(world, user, datetime(year, 3, 1, tzinfo=UTC), 9000, shipping=1000, distributor_id="d_1")
    second = paid(world, user, datetime(year, 2, 1, tzinfo=UTC), 2000)
    c = world.repo.get(user)
    assert (c.orders, c.spent, c.level, c.distributor_id) == (2, 11000, "金卡", "d_1")
    assert (c.first_order_at, c.last_order_at) == (second.paid_at, first.paid_at)

    refund_id, payload = refunded(world, first, 5000)
    assert world.repo.get(user).spent == 6000
    world.customers.on_order_refunded(f"order.refunded:{refund_id}", payload)  # delivered again
    world.customers.on_order_paid(f"order.paid:{second.order_id}", {"order_id": second.order_id})
    assert world.repo.get(user).spent == 6000 and world.repo.get(user).orders == 2
    refunded(world, first, 5000)  # the rest, shipping included: goods first, so 4000 more
    assert world.repo.get(user).spent == 2000


def test_concurrent_events_of_one_customer_each_count_once(world):
    user, year = _user(), random_year()
    orders = [world.paid(user, datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=i), [("p", 1, 100 + i)])
              for i in range(12)]
    events = [(f"order.paid:{o.order_id}", {"order_id": o.order_id}) for o in orders] * 2  # each twice
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda e: world.customers.on_order_paid(*e), events))
    c = world.repo.get(user)
    assert (c.orders, c.spent) == (12, sum(100 + i for i in range(12)))
    assert (c.first_order_at, c.last_order_at) == (orders[0].paid_at, orders[-1].paid_at)


# -- the list -------------------------------------------------------------------------------------

def test_the_list_filters_work_together_newest_first_and_page(world):
    year = random_year()
    window = {"last_order_after": f"{year - 1}-12-31T00:00:00Z", "last_order_before": f"{year + 1}-01-01T00:00:00Z"}
    users = [_user() for _ in range(6)]
    for i, user in enumerate(users):
        world.levels[user] = "金卡" if i % 2 else "银卡"
        for k in range(1 + i % 3):
            paid(world, user, datetime(year, 1 + i, 1 + k, tzinfo=UTC), 1000 * (i + 1))
    every = [c.user_id for c in world.repo.page(Filters(**window), 100, None)[0]]
    assert every == list(reversed(users))  # newest last order first
    got = world.repo.page(Filters(level="金卡", min_orders=2, **window), 100, None)[0]
    assert [c.user_id for c in got] == [users[5], users[1]]
    got = world.repo.page(Filters(level="金卡", min_orders=2, min_spent=12000, **window), 100, None)[0]
    assert [c.user_id for c in got] == [users[5]]
    assert world.repo.page(Filters(last_order_after=f"{year}-06-01T00:00:00Z",
                                   last_order_before=f"{year}-06-02T00:00:00Z"), 100, None)[0] == []
    # paged two at a time, nothing lost or repeated
    seen, cursor = [], None
    while True:
        page, cursor = world.repo.page(Filters(**window), 2, cursor)
        seen += [c.user_id for c in page]
        if cursor is None:
            break
    assert seen == list(reversed(users))


def test_a_page_reads_at_most_its_budget_and_says_more_may_follow(world):
    year = random_year()
    window = {"last_order_after": f"{year - 1}-12-31T00:00:00Z", "last_order_before": f"{year + 1}-01-01T00:00:00Z"}
    users = [_user() for _ in range(5)]
    for i, user in enumerate(users):
        paid(world, user, datetime(year, 1, 1 + i, tzinfo=UTC), 100)
    match = users[0]  # the oldest: read last
    paid(world, match, datetime(year, 1, 1, 1, tzinfo=UTC), 100)
    found, cursor = world.repo.page(Filters(min_orders=2, **window), 10, None, budget=2)
    assert found == [] and cursor is not None  # two read, none matched: more may follow
    seen = []
    while cursor is not None:
        found, cursor = world.repo.page(Filters(min_orders=2, **window), 10, cursor, budget=2)
        seen += [c.user_id for c in found]
    assert seen == [match]


# -- tags ---------------------------------------------------------------------------------------

def test_tags_manual_and_by_rule_and_their_members_page(world):
    from functions import schemas

    year = random_year()
    active, manual = f"活跃{uuid.uuid4().hex[:6]}", f"手动{uuid.uuid4().hex[:6]}"
    world.customers.create_tag(schemas.TagInput(name=manual))
    world.customers.create_tag(schemas.TagInput(name=active, rule={"min_orders": 2, "last_order_within_days": 30}))
    with pytest.raises(errors.InvalidState):
        world.customers.create_tag(schemas.TagInput(name=manual))
    world.now = datetime(year, 6, 10, tzinfo=UTC)
    users = [_user() for _ in range(3)]
    for i, user in enumerate(users):
        for k in range(i + 1):
            paid(world, user, datetime(year, 6, 1 + k, tzinfo=UTC), 500)
    assert world.customers.retag()["retagged"] >= 2
    assert world.customers.retag()["retagged"] == 0  # idempotent: nothing left to change
    # the job retags everyone in the table (other tests' customers too): look at ours
    assert set(world.repo.users_with_tag(active, 100)[0]) & set(users) == set(users[1:])

    world.customers.set_manual_tags(users[0], [manual])
    with pytest.raises(errors.NotAcceptable):
        world.customers.set_manual_tags(users[0], [active])  # a rule tag is the job's
    with pytest.raises(errors.NotAcceptable):
        world.customers.set_manual_tags(users[0], ["没有这个标签"])
    assert world.repo.get(users[0]).tags == [manual]
    page = world.repo.page(Filters(tag=active), 1, None)
    assert len(page[0]) == 1 and page[1] is not None

    world.now = datetime(year + 1, 1, 1, tzinfo=UTC)  # no order in the last 30 days any more
    world.customers.retag()
    assert set(world.repo.users_with_tag(active, 100)[0]) & set(users) == set()
    assert world.repo.get(users[2]).tags == []
    world.customers.set_manual_tags(users[0], [])
    assert world.repo.users_with_tag(manual, 10) == ([], None)


# -- the phone number, through HTTP and the sandbox ---------------------------------------------

NUMBER = "13912345678"


def _phone_code(shop, number=NUMBER):
    return shop["sandbox"].mp.phone_code(number)


def _capture():
    from layers.observability import logger

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logger.registered_formatter)
    root = logging.StreamHandler(buf)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(root)

    def done() -> str:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logging.getLogger().removeHandler(root)
        return buf.getvalue()

    return done


def test_the_phone_is_saved_masked_found_by_number_or_last_four_removed_and_never_logged(client, shop,
                                                                                        admin_headers):
    from functions import wiring
    from layers.storage.customers import CustomerItem, record_key

    done = _capture()
    try:
        shopper = login(client)
        user = shopper["X-User-Id"]
        code = _phone_code(shop)
        r = post(client, "/me/phone", {"code": code}, shopper)
        assert r.status_code == 200, r.body
        assert body(r) == {"phone_masked": "139****5678"}
        again = post(client, "/me/phone", {"code": code}, shopper)  # a code is used once
        assert again.status_code == 422 and body(again)["error"]["code"] == "NOT_ACCEPTABLE"
        assert post(client, "/me/phone", {"code": "x" * 200}, shopper).status_code == 400
        assert post(client, "/me/phone", {"code": _phone_code(shop)}).status_code == 401

        item = CustomerItem.get(*record_key(user))
        stored = json.dumps(item.serialize(), ensure_ascii=False)
        assert NUMBER not in stored  # sealed; its hashes reveal nothing, nor is the last four kept
        assert not re.search(rf"(?<![0-9A-Za-z+/]){NUMBER[-4:]}(?![0-9A-Za-z+/=])", stored.replace("139****5678", ""))
        assert wiring.customer_repository().phone(user) == NUMBER

        for q in (NUMBER, "5678", "+86 139-1234-5678"):
            r = client.http.get(f"/admin/customers?q={q.replace('+', '%2B').replace(' ', '%20')}&limit=100",
                                headers=admin_headers)
            assert r.status_code == 200, r.body
            mine = [c for c in body(r)["items"] if c["user_id"] == user]
            assert mine and mine[0]["phone_masked"] == "139****5678", q
        r = client.http.get(f"/admin/customers/{user}", headers=admin_headers)
        assert r.status_code == 200 and body(r)["phone_masked"] == "139****5678" and "phone" not in body(r)
        assert client.http.get("/admin/customers?q=12", headers=admin_headers).status_code == 400
        # digits to str.isdigit that are no number's: a clear 400, never a 500
        for odd in ("q=%C2%B2%C2%B2%C2%B2%C2%B2", "min_orders=%C2%B2", "min_spent=%D9%A1"):
            r = client.http.get(f"/admin/customers?{odd}", headers=admin_headers)
            assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST", (odd, r.body)
        assert client.http.get(f"/admin/customers?q={NUMBER}", headers=shopper).status_code == 401

        assert client.http.delete("/me/phone", headers=shopper).status_code == 204
        r = client.http.get(f"/admin/customers?q={NUMBER}", headers=admin_headers)
        assert [c for c in body(r)["items"] if c["user_id"] == user] == []
        assert client.http.delete("/me/phone", headers=shopper).status_code == 404
        assert body(client.http.get(f"/admin/customers/{user}", headers=admin_headers))["phone_masked"] is None
    finally:
        logged = done()
    assert user in logged and "phone number saved" in logged  # the lines were captured
    for leak in (NUMBER, "139****5678"):
        assert leak not in logged, leak
    # four digits of it as a value of their own (a random hex id or a duration may hold the
    # same four digits inside it: that is not the number)
    for digits in (NUMBER[3:7], NUMBER[-4:]):
        assert not re.search(rf"(?<![0-9A-Za-z]){digits}(?![0-9A-Za-z])", logged), digits


def test_tags_and_the_customer_page_through_http(client, shop, admin_headers):
    name = f"h{uuid.uuid4().hex[:8]}"
    r = post(client, "/admin/tags", {"name": name}, admin_headers)
    assert r.status_code == 201, r.body
    assert body(r)["kind"] == "manual"
    assert post(client, "/admin/tags", {"name": name}, admin_headers).status_code == 409
    assert post(client, "/admin/tags", {"name": "a b"}, admin_headers).status_code == 400
    assert post(client, "/admin/tags", {"name": f"r{name}", "rule": {}}, admin_headers).status_code == 400
    r = post(client, "/admin/tags", {"name": f"r{name}", "rule": {"min_spent": 100}}, admin_headers)
    assert r.status_code == 201 and body(r)["rule"] == {"min_spent": 100} and body(r)["kind"] == "rule"
    listed = body(client.http.get("/admin/tags", headers=admin_headers))["items"]
    assert {name, f"r{name}"} <= {t["name"] for t in listed}

    shopper = login(client)
    user = shopper["X-User-Id"]
    assert put(client, f"/admin/customers/{user}/tags", {"tags": [name]}, admin_headers).status_code == 404
    assert post(client, "/me/phone", {"code": _phone_code(shop, "13700001111")}, shopper).status_code == 200
    r = put(client, f"/admin/customers/{user}/tags", {"tags": [name]}, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["tags"] == [name]
    assert put(client, f"/admin/customers/{user}/tags", {"tags": [f"r{name}"]}, admin_headers).status_code == 422
    r = client.http.get(f"/admin/customers?tag={name}", headers=admin_headers)
    assert [c["user_id"] for c in body(r)["items"]] == [user]
    assert body(r)["items"][0]["segment"] == "new"
    assert client.http.get("/admin/customers?tag=nosuchtag", headers=admin_headers).status_code == 404
    for bad in ("min_spent=-1", "min_orders=x", "last_order_before=yesterday", "last_order_after=2026-01-01T00:00:00",
                "min_orders=", "last_order_before="):
        assert client.http.get(f"/admin/customers?{bad}", headers=admin_headers).status_code == 400, bad
    for window in ("last_order_before=0001-01-01T00:00:00Z", "last_order_before=1970-01-01T00:00:01Z",
                   "last_order_after=9999-12-31T23:59:59Z",
                   "last_order_after=2030-01-01T00:00:00Z&last_order_before=2020-01-01T00:00:00Z",
                   "last_order_before=0001-01-01T00:00:00%2B08:00"):
        r = client.http.get(f"/admin/customers?{window}", headers=admin_headers)
        assert r.status_code in (200, 400), (window, r.status_code, r.body)
        if r.status_code == 200:
            assert body(r) == {"items": [], "next_cursor": None}, window
    detail = body(client.http.get(f"/admin/customers/{user}", headers=admin_headers))
    assert detail["tags"] == [name] and detail["orders_list"] == [] and detail["coupons"] == []
    assert detail["balance"] == {"principal": 0, "bonus": 0} and detail["segment_name"] == "未下单客户"
    assert client.http.get("/admin/customers/u_nobody", headers=admin_headers).status_code == 404


def test_a_payment_through_the_events_pipeline_reaches_the_record_once_and_the_page(client, admin_headers, shop):
    """The real path: WeChat's notification, the outbox event on the queue, the events
    consumer (every registered handler) delivering it twice; the record counts it once."""
    from functions import wiring
    from layers.events import handle_event_batch
    from tests.integration.test_analytics_api import _sqs_event
    from tests.integration.test_payments import (
        drain_events_queue,
        new_order,
        pay_through_notification,
    )

    order, _, shopper = new_order(client, admin_headers, price=2500, quantity=2)
    user = shopper["X-User-Id"]
    drain_events_queue(shop["sqs"])
    pay_through_notification(client, shop["sandbox"], order["id"])
    [event] = [m for m in drain_events_queue(shop["sqs"]) if m["payload"].get("order_id") == order["id"]]
    answer = handle_event_batch({"Records": _sqs_event([json.dumps(event)] * 2)["Records"]}, wiring.event_handlers())
    assert answer == {"batchItemFailures": []}
    record = wiring.customer_repository().get(user)
    goods = order["amounts"]["payable"] - order["amounts"]["shipping"]
    assert (record.orders, record.spent) == (1, goods)

    detail = body(client.http.get(f"/admin/customers/{user}", headers=admin_headers))
    assert detail["orders"] == 1 and detail["spent"] == goods and detail["segment"] == "general_develop"
    assert [o["id"] for o in detail["orders_list"]] == [order["id"]]
    assert detail["after_sales"] == [] and detail["points"] is not None
    paid_at = datetime.fromisoformat(record.last_order_at.replace("Z", "+00:00"))
    window = (f"last_order_after={(paid_at - timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
              f"&last_order_before={(paid_at + timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    for query, found in ((f"min_orders=1&min_spent={goods}", True), (f"min_spent={goods + 1}", False),
                         ("min_orders=2", False)):
        r = client.http.get(f"/admin/customers?{query}&{window}&limit=100", headers=admin_headers)
        assert r.status_code == 200, r.body
        assert (user in [c["user_id"] for c in body(r)["items"]]) is found, query


def test_the_backfill_on_dynamodb_counts_each_order_and_refund_once_beside_the_consumers(world):
    """`backfill_order` through the real order and refund repositories and markers: what a
    consumer counted is skipped, the rest counted once, and a second pass changes nothing."""
    from layers.services.customers import CustomerBackfill

    user, year = _user(), random_year()
    first = world.paid(user, datetime(year, 1, 1, tzinfo=UTC), [("p", 1, 8000)], shipping=1000)
    second = world.paid(user, datetime(year, 1, 2, tzinfo=UTC), [("p", 1, 3000)])
    r1 = world.refund(first.order_id, 8500, datetime(year, 1, 3, tzinfo=UTC))  # goods 8000 first, then 500
    world.customers.on_order_paid(f"order.paid:{second.order_id}", {"order_id": second.order_id})
    backfill = CustomerBackfill(service=world.customers, orders=world.orders, refunds=world.refunds,
                                progress=None, first_day=lambda: None, clock=None)
    assert backfill.backfill_order(world.orders.get(first.order_id, consistent=True)) == 2
    assert backfill.backfill_order(world.orders.get(second.order_id, consistent=True)) == 0
    world.customers.on_order_refunded(f"order.refunded:{r1}", {"order_id": first.order_id, "refund_id": r1, "amount": 8500,
                                           "refunded_total": 8500})  # the event, late: counted already
    c = world.repo.get(user)
    assert (c.orders, c.spent) == (2, 3000)
    assert backfill.backfill_order(world.orders.get(first.order_id, consistent=True)) == 0


def test_the_retag_job_runs_on_demand_and_keeps_its_place_in_the_table(client, admin_headers, shop):
    from functions import wiring

    tag = f"j{uuid.uuid4().hex[:8]}"
    assert post(client, "/admin/tags", {"name": tag, "rule": {"no_order_for_days": 1}}, admin_headers).status_code == 201
    shopper = login(client)
    assert post(client, "/me/phone", {"code": _phone_code(shop, "13500009999")}, shopper).status_code == 200
    answers = []
    for _ in range(20):
        r = post(client, "/admin/jobs/retag-customers/run", None, admin_headers)
        assert r.status_code == 200, r.body
        answers.append(body(r)["result"])
        if answers[-1]["done"]:
            break
    assert answers[-1]["done"] is True
    state = wiring.customers().progress.get("retag-customers")
    assert state["finished_at"] and state["cursor"] is None
    assert shopper["X-User-Id"] in wiring.customer_repository().users_with_tag(tag, 1000)[0]
    assert wiring.customer_repository().get(shopper["X-User-Id"]).rule_tags == (tag,)
    again = body(post(client, "/admin/jobs/retag-customers/run", None, admin_headers))["result"]
    assert again["done"] is True and again["retagged"] == 0
