"""Top-ups' payment window against DynamoDB Local and the WeChat sandbox: a repeated
request pays the same top-up (its prepay id renewed with the same out_trade_no and
time_expire), at most three unpaid per shopper under any concurrency, and an unpaid one
past its window closed at WeChat and here; a payment that beat the close is credited
once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import body, login, post, put

pytestmark = pytest.mark.integration

JSAPI = "/v3/pay/transactions/jsapi"
CLOSE = "/v3/pay/transactions/out-trade-no/"


def wiring():
    from functions import wiring as module

    return module


@pytest.fixture
def box(shop):
    sandbox = shop["sandbox"]
    sandbox.reset_switches()
    yield sandbox
    sandbox.reset_switches()
    sandbox.reset_clock()


@pytest.fixture
def later(monkeypatch):
    """Move the app's clock (and the sandbox's with it) `seconds` on."""
    from layers import clock

    real = clock.now

    def go(sandbox, seconds: float):
        target = real() + timedelta(seconds=seconds)
        monkeypatch.setattr(clock, "now", lambda: target)
        sandbox.reset_clock()
        sandbox.advance(seconds, notify=False)

    return go


@pytest.fixture
def timeout_of(client, admin_headers):
    """The shop's order_payment_timeout_s for the test, back to 900 after it."""
    from tests.conftest import _reset_caches

    def set_to(seconds: int):
        assert put(client, "/admin/settings", {"order_payment_timeout_s": seconds}, admin_headers).status_code == 200
        _reset_caches()  # settings are cached per container

    yield set_to
    set_to(900)


def plan(client, admin_headers, pay=1000, bonus=0) -> str:
    return body(post(client, "/admin/top-up-plans", {"pay": pay, "bonus": bonus}, admin_headers))["id"]


def top_up(top_up_id: str):
    return wiring().top_up_repository().get(top_up_id)


def unpaid(user_id: str) -> int:
    return wiring().top_up_repository().unpaid_count(user_id)


def deliver(client, sandbox, top_up_id: str, resource: dict | None = None):
    headers, raw = sandbox.build_notification("TRANSACTION.SUCCESS", resource or sandbox.transaction(top_up_id))
    r = client.http.post("/wechatpay/notify", body=raw, headers={"Content-Type": "application/json", **headers})
    assert r.status_code in (200, 204), r.body


def book(user_id: str):
    return wiring().member_repository().get_book(user_id, "balance")


def test_a_repeated_top_up_for_a_plan_answers_the_same_one_with_its_window_as_time_expire(
        client, admin_headers, box, timeout_of):
    from layers.clock import parse_iso

    timeout_of(1800)
    plan_id = plan(client, admin_headers)
    shopper = login(client)
    before = len(box.requests_log)
    answers = [post(client, "/top-ups", {"plan_id": plan_id}, shopper) for _ in range(5)]
    assert [r.status_code for r in answers] == [201] * 5
    ids = {body(r)["id"] for r in answers}
    assert len(ids) == 1
    [top_up_id] = ids
    first = body(answers[0])
    assert all(body(r)["payment"]["package"].startswith("prepay_id=") for r in answers)
    assert len([r for r in box.requests_log[before:] if r["path"] == JSAPI]) == 1  # one prepay, not five
    # WeChat's time_expire is the window: created + the shop's payment timeout
    expires = parse_iso(first["expires_at"])
    assert expires - parse_iso(first["created_at"]) == timedelta(seconds=1800)
    assert parse_iso(box.orders[top_up_id]["request"]["time_expire"]) == expires
    # an Idempotency-Key does not make a second unpaid top-up of the same plan either
    keyed = post(client, "/top-ups", {"plan_id": plan_id}, {**shopper, "Idempotency-Key": uuid.uuid4().hex})
    assert body(keyed)["id"] == top_up_id
    assert unpaid(shopper["X-User-Id"]) == 1


def test_a_three_hour_old_unpaid_top_up_gets_a_fresh_prepay_with_the_same_time_expire(
        client, admin_headers, box, timeout_of, later):
    timeout_of(86400)
    plan_id = plan(client, admin_headers, pay=2000, bonus=100)
    shopper = login(client)
    first = body(post(client, "/top-ups", {"plan_id": plan_id}, shopper))
    old = first["payment"]["package"].removeprefix("prepay_id=")
    later(box, 3 * 3600)
    assert not box.prepay_valid(old)
    r = post(client, "/top-ups", {"plan_id": plan_id}, shopper)
    assert r.status_code == 201, r.body  # the sandbox refuses a changed time_expire (OUT_TRADE_NO_USED)
    again = body(r)
    assert again["id"] == first["id"] and again["expires_at"] == first["expires_at"]
    fresh = again["payment"]["package"].removeprefix("prepay_id=")
    assert fresh != old and box.prepay_valid(fresh)
    box.pay(first["id"], notify=False, prepay_id=fresh)
    deliver(client, box, first["id"])
    b = book(shopper["X-User-Id"])
    assert (b.principal, b.bonus) == (2000, 100)
    assert top_up(first["id"]).status == "PAID" and unpaid(shopper["X-User-Id"]) == 0


def test_a_fourth_unpaid_top_up_is_409_limit_exceeded_and_asks_wechat_nothing(client, admin_headers, box):
    shopper = login(client)
    plans = [plan(client, admin_headers, pay=100 * (i + 1)) for i in range(4)]
    made = [body(post(client, "/top-ups", {"plan_id": p}, shopper))["id"] for p in plans[:3]]
    assert len(set(made)) == 3
    before = len(box.requests_log)
    r = post(client, "/top-ups", {"plan_id": plans[3]}, shopper)
    assert r.status_code == 409, r.body
    assert body(r)["error"]["code"] == "LIMIT_EXCEEDED" and body(r)["error"]["message"]
    assert not [x for x in box.requests_log[before:] if x["path"] == JSAPI]
    assert unpaid(shopper["X-User-Id"]) == 3
    # one paid frees a place
    box.pay(made[0], notify=False)
    deliver(client, box, made[0])
    assert post(client, "/top-ups", {"plan_id": plans[3]}, shopper).status_code == 201


def test_twenty_concurrent_top_ups_by_one_shopper_create_at_most_three(client, admin_headers, box):
    from functions import schemas
    from layers.domain.errors import DomainError
    from layers.storage.members import TopUpItem

    shopper = login(client)
    user = shopper["X-User-Id"]
    plans = [plan(client, admin_headers, pay=100 + i) for i in range(20)]
    service = wiring().top_ups()
    before = len(box.requests_log)

    def attempt(p):
        try:
            return service.create(user, schemas.TopUpInput(plan_id=p), None)
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, plans))
    made = {r["id"] for r in results if isinstance(r, dict)}
    print("concurrent top-ups:", sorted(str(r if not isinstance(r, dict) else "created") for r in results))
    assert 1 <= len(made) <= 3
    assert set(r for r in results if not isinstance(r, dict)) <= {"LIMIT_EXCEEDED", "RATE_LIMITED"}
    stored = [i for i in TopUpItem.scan((TopUpItem.sk == "TOPUP") & (TopUpItem.user_id == user))]
    assert {i.top_up_id for i in stored} == made  # the refused ones wrote nothing
    assert unpaid(user) == len(made)
    assert len([r for r in box.requests_log[before:] if r["path"] == JSAPI]) == len(made)  # none for the refused


def test_ten_concurrent_top_ups_of_one_plan_by_one_shopper_make_one(client, admin_headers, box):
    from functions import schemas
    from layers.domain.errors import DomainError

    shopper = login(client)
    user = shopper["X-User-Id"]
    plan_id = plan(client, admin_headers, pay=777)
    service = wiring().top_ups()
    trades_before = set(box.orders)

    def attempt(_):
        try:
            return service.create(user, schemas.TopUpInput(plan_id=plan_id), None)["id"]
        except DomainError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(attempt, range(10)))
    made = {r for r in results if r.startswith("t")}
    assert len(made) == 1 and set(results) - made <= {"RATE_LIMITED"}
    assert unpaid(user) == 1
    assert set(box.orders) - trades_before == made  # one trade at WeChat


def test_an_unpaid_top_up_past_its_window_is_closed_at_wechat_and_here(client, admin_headers, box, later):
    from functions.jobs import run_job
    from sandbox.pay import SandboxError

    plan_id = plan(client, admin_headers)
    shopper = login(client)
    first = body(post(client, "/top-ups", {"plan_id": plan_id}, shopper))
    run_job("close-expired-orders")
    assert top_up(first["id"]).status == "PENDING_PAYMENT"  # in its window: left alone
    later(box, 900 + 5)
    box.fail_next(CLOSE + first["id"], status=500)  # the close's outcome is not known: the next run
    result = run_job("close-expired-orders")["top_ups_closed"]
    assert result["skipped"] >= 1
    assert top_up(first["id"]).status == "PENDING_PAYMENT" and unpaid(shopper["X-User-Id"]) == 1
    assert box.orders[first["id"]]["trade_state"] == "NOTPAY"
    result = run_job("close-expired-orders")["top_ups_closed"]
    assert result["closed"] >= 1
    closed = top_up(first["id"])
    assert closed.status == "CLOSED" and closed.closed_at
    assert box.orders[first["id"]]["trade_state"] == "CLOSED"
    with pytest.raises(SandboxError):
        box.pay(first["id"], notify=False)  # WeChat refuses to pay a closed order
    assert unpaid(shopper["X-User-Id"]) == 0
    again = body(post(client, "/top-ups", {"plan_id": plan_id}, shopper))
    assert again["id"] != first["id"] and again["status"] == "PENDING_PAYMENT"
    run_job("close-expired-orders")
    assert unpaid(shopper["X-User-Id"]) == 1  # the new one; the closed one was released once


def test_a_top_up_paid_at_wechat_before_the_close_is_credited_once(client, admin_headers, box, later):
    from functions.jobs import run_job

    plan_id = plan(client, admin_headers, pay=3000, bonus=300)
    shopper = login(client)
    first = body(post(client, "/top-ups", {"plan_id": plan_id}, shopper))
    box.pay(first["id"], notify=False)  # paid; the notification is late
    later(box, 900 + 5)
    result = run_job("close-expired-orders")["top_ups_closed"]
    assert result["paid"] >= 1  # WeChat answered the close ORDERPAID: credited, not closed
    deliver(client, box, first["id"])  # the notification, late
    b = book(shopper["X-User-Id"])
    assert (b.principal, b.bonus) == (3000, 300)
    assert top_up(first["id"]).status == "PAID" and unpaid(shopper["X-User-Id"]) == 0


def test_a_payment_notified_for_a_top_up_closed_here_is_credited_once(client, admin_headers, box, later):
    """WeChat took the payment in the instant before our close reached it (its close and
    our local close raced the shopper): the notification still credits the top-up, once."""
    from functions.jobs import run_job

    plan_id = plan(client, admin_headers, pay=5000, bonus=500)
    shopper = login(client)
    first = body(post(client, "/top-ups", {"plan_id": plan_id}, shopper))
    paid_trade = box.pay(first["id"], notify=False)
    box.orders[first["id"]]["trade_state"] = "NOTPAY"  # the close below reaches WeChat first ...
    later(box, 900 + 5)
    assert run_job("close-expired-orders")["top_ups_closed"]["closed"] >= 1
    assert top_up(first["id"]).status == "CLOSED"
    box.orders[first["id"]]["trade_state"] = "SUCCESS"  # ... yet the payment stands, and is notified
    for _ in range(3):
        deliver(client, box, first["id"], resource=paid_trade)
    user = shopper["X-User-Id"]
    b = book(user)
    assert (b.principal, b.bonus) == (5000, 500)
    credits = wiring().member_repository().entries_for(user, "balance", f"top_up#{first['id']}#")
    assert [m.kind for m in credits] == ["top_up"]
    after = top_up(first["id"])
    assert after.status == "PAID" and after.transaction_id == paid_trade["transaction_id"]
    assert unpaid(user) == 0  # released once, by the close
