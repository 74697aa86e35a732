"""A shopper's write routes are limited per shopper, on DynamoDB Local: orders count in
their own placement transaction (so concurrent orders cannot overshoot and no round trip
is added), claims, helps and top-ups in the shopper's table window; past the limit 429
RATE_LIMITED with `Retry-After`, and nothing is written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from layers.domain import errors, rate_limit
from tests.helpers import body, create_product, login, order_payload, post
from tests.integration.test_coupons import template
from tests.integration.test_orders import new_shopper, place, sku_stock


def test_forty_orders_at_once_from_one_shopper_place_at_most_the_limit(client, admin_headers, monkeypatch):
    # Below the 10 unpaid orders a shopper may hold, so the limit seen is this one.
    monkeypatch.setattr(rate_limit, "SHOPPER_WRITE_LIMIT", 4)
    sku = create_product(client, admin_headers, stock=100)["skus"][0]["id"]
    user = new_shopper()

    def attempt(n):
        try:
            return place(user, sku, key=f"burst-{n}")["id"]
        except errors.RateLimited as exc:  # the limit, or (no retry_after) busy: conflicts kept coming
            assert 1 <= exc.details.get("retry_after", 1) <= rate_limit.SHOPPER_WRITE_WINDOW_S
            return "limited"

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    placed = [o for o in outcomes if o != "limited"]
    # A window boundary may fall inside the burst: two windows at most.
    assert 1 <= len(placed) <= 8 and outcomes.count("limited") == 40 - len(placed)
    assert sku_stock(sku) == 100 - len(placed)  # a refused order holds nothing
    assert place(new_shopper(), sku, key="someone-else")["status"] == "PENDING_PAYMENT"  # per shopper


def test_over_the_limit_the_api_answers_429_with_retry_after(client, admin_headers, monkeypatch):
    monkeypatch.setattr(rate_limit, "SHOPPER_WRITE_LIMIT", 2)
    sku = create_product(client, admin_headers, stock=100)["skus"][0]["id"]
    shopper = login(client)
    answers = [post(client, "/orders", order_payload(sku), {**shopper, "Idempotency-Key": f"k{n}"})
               for n in range(3)]
    assert [a.status_code for a in answers][:2] == [201, 201] or answers[2].status_code == 201
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert body(limited[0])["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(limited[0].headers["Retry-After"]) <= rate_limit.SHOPPER_WRITE_WINDOW_S

    coupon = template(client, admin_headers, per_user_limit=10)
    claims = [post(client, f"/coupons/{coupon['id']}/claim", {}, {**shopper, "Idempotency-Key": f"c{n}"})
              for n in range(3)]
    codes = [c.status_code for c in claims]
    assert 429 in codes and codes.count(201) >= 2, codes
    refused = claims[codes.index(429)]
    assert body(refused)["error"]["code"] == "RATE_LIMITED" and int(refused.headers["Retry-After"]) >= 1
