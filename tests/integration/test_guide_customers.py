"""A guide's customers through the real path on DynamoDB Local: bindings by shares and by
orders placed with a share token, a customer who moves to another guide, orders paid
through WeChat Pay's notification and one partly refunded; every event through the
events consumer and the analytics consumer (twice: counted once). Each customer's
`orders` and `spent` on the guide's list equal a recount from the orders themselves."""

from __future__ import annotations

import json

import pytest

from tests.helpers import body, create_product, login, order_payload, post
from tests.integration.test_analytics_api import _drain_analytics_queue, _sqs_event
from tests.integration.test_distribution import (
    auth,
    new_distributor,
    new_template,
    share,
    uid,
    visit,
)
from tests.integration.test_payments import deliver, drain_events_queue, pay_through_notification

pytestmark = pytest.mark.integration


def _order(client, shopper, sku_id, quantity=1, token=None) -> dict:
    extra = {"share_token": token} if token else {}
    r = post(client, "/orders", order_payload(sku_id, quantity, **extra), shopper)
    assert r.status_code == 201, r.body
    return body(r)


def _paid(client, shop, shopper, sku_id, quantity=1, token=None) -> dict:
    order = _order(client, shopper, sku_id, quantity, token)
    pay_through_notification(client, shop["sandbox"], order["id"])
    return order


def _refunded(client, shop, shopper, order_id, amount) -> None:
    r = post(client, f"/orders/{order_id}/refunds", {"amount": amount, "reason": "少了一件"}, shopper)
    assert r.status_code == 201, r.body
    sandbox = shop["sandbox"]
    headers, raw = sandbox.build_notification("REFUND.SUCCESS", sandbox.refund_resource(body(r)["id"], "SUCCESS"))
    assert deliver(client, headers, raw, "/wechatpay/refund-notify").status_code in (200, 204)


def _through_the_consumers(shop, order_ids: set[str]) -> None:
    """The events of these orders through every registered handler, then their facts
    through the analytics consumer, each delivered twice."""
    from functions import wiring
    from functions.analytics import consume_batch
    from layers.events import handle_event_batch

    events = [json.dumps(m) for m in drain_events_queue(shop["sqs"]) if m["payload"].get("order_id") in order_ids]
    assert events
    for _ in range(2):
        for start in range(0, len(events), 10):
            answer = handle_event_batch(_sqs_event(events[start:start + 10]), wiring.event_handlers())
            assert answer == {"batchItemFailures": []}
    facts = [f for f in _drain_analytics_queue(shop["sqs"]) if json.loads(f).get("order_id") in order_ids]
    for _ in range(2):
        for start in range(0, len(facts), 10):
            assert consume_batch(_sqs_event(facts[start:start + 10])) == {"batchItemFailures": []}


def _recount(guide_id: str, order_ids: set[str]) -> dict[str, tuple[int, int]]:
    """{customer: (orders, spent)} through the guide, from the orders as stored: paid
    orders attributed to the guide; the goods paid less the goods part of the refunds."""
    from functions import wiring
    from layers.domain import paid_shares
    from layers.domain.customers import refunded_goods

    out: dict[str, tuple[int, int]] = {}
    for order_id in order_ids:
        order = wiring.order_repository().get(order_id, consistent=True)
        if order.distributor_id != guide_id or not order.paid_at:
            continue
        goods = sum(paid_shares.line_paid(order.items, order.amounts))
        spent = goods - refunded_goods(goods, 0, int(order.refunded_amount or 0))
        have = out.get(order.user_id, (0, 0))
        out[order.user_id] = (have[0] + 1, have[1] + spent)
    return out


def _listed(client, path, headers) -> list[dict]:
    rows, cursor = [], None
    for _ in range(20):
        r = client.http.get(path + "?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200, r.body
        page = body(r)
        rows += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows
    raise AssertionError("the list never ended")


def test_a_guides_customers_and_their_orders_and_spending_through_the_guide(client, admin_headers, shop):
    from functions import wiring

    manager = login(client)
    template = new_template(client, admin_headers)
    a = new_distributor(client, admin_headers, template)
    b = new_distributor(client, admin_headers, template, manager_id=uid(manager))
    sku = create_product(client, admin_headers, price=10_000, stock=100)["skus"][0]["id"]
    c1, c2, c3 = login(client), login(client), login(client)
    drain_events_queue(shop["sqs"])
    _drain_analytics_queue(shop["sqs"])

    token_a = share(client, a)
    assert visit(client, c1, token_a).status_code == 204             # c1: bound by a share
    o1 = _paid(client, shop, c1, sku, 2)                               # through the binding
    o2 = _paid(client, shop, c2, sku, 1, token=token_a)                # c2: bound by an order's token
    o3 = _paid(client, shop, c1, sku, 3)
    _refunded(client, shop, c1, o3["id"], 12_000)                      # partly refunded
    assert visit(client, c3, token_a).status_code == 204
    o4 = _paid(client, shop, c3, sku, 1)                               # c3 for a, then ...
    moved = wiring.distributor_repository().get_binding(uid(c3)).bound_at
    assert visit(client, c3, share(client, b)).status_code == 204      # ... moves to b
    o5 = _paid(client, shop, c3, sku, 1)
    unpaid = _order(client, c2, sku, 1)                                # never paid: counts nowhere
    orders = {o["id"] for o in (o1, o2, o3, o4, o5, unpaid)}
    _through_the_consumers(shop, orders)

    rows = _listed(client, "/me/distribution/customers", auth(a))
    assert sorted(r["user_id"] for r in rows) == sorted([uid(c1), uid(c2), uid(c3)])
    # the latest bound first (times are to the second: a tie goes by the customer's id, highest first)
    assert [(r["bound_at"], r["user_id"]) for r in rows] == sorted(((r["bound_at"], r["user_id"]) for r in rows),
                                                                  reverse=True)
    recount = _recount(uid(a), orders)
    assert {r["user_id"]: (r["orders"], r["spent"]) for r in rows} == recount
    assert recount[uid(c1)] == (2, 50_000 - 12_000) and recount[uid(c2)] == (1, 10_000)
    by_user = {r["user_id"]: r for r in rows}
    assert by_user[uid(c1)]["bound"] and by_user[uid(c2)]["bound"]
    ended = by_user[uid(c3)]
    assert not ended["bound"] and ended["binding_expires_at"] >= moved  # ended at the move
    assert ended["binding_expires_at"] == wiring.distributor_repository().get_binding(uid(c3)).bound_at
    assert all(set(r) >= {"user_id", "bound_at", "binding_expires_at", "orders", "spent"} for r in rows)

    rows_b = _listed(client, "/me/distribution/customers", auth(b))
    assert [(r["user_id"], r["orders"], r["spent"], r["bound"]) for r in rows_b] == [(uid(c3), 1, 10_000, True)]
    assert _recount(uid(b), orders) == {uid(c3): (1, 10_000)}

    # the operators see any guide's; the manager only their own group's
    assert _listed(client, f"/admin/distributors/{uid(a)}/customers", admin_headers) == rows
    assert client.http.get(f"/admin/distributors/{uid(c1)}/customers", headers=admin_headers).status_code == 404
    assert _listed(client, f"/manager/distributors/{uid(b)}/customers", auth(manager)) == rows_b
    for caller, guide in ((manager, a), (manager, c1), (c1, b), (a, b)):
        r = client.http.get(f"/manager/distributors/{uid(guide)}/customers", headers=auth(caller))
        assert r.status_code == 403 and body(r)["error"]["code"] == "FORBIDDEN", r.body
    r = client.http.get("/me/distribution/customers", headers=auth(c1))  # not a distributor
    assert r.status_code == 403
    assert client.http.get(f"/admin/distributors/{uid(a)}/customers", headers=auth(a)).status_code == 401


def test_a_phone_on_the_customer_record_shows_only_masked(client, admin_headers, shop):
    from functions import wiring

    guide = new_distributor(client, admin_headers)
    customer = login(client)
    assert visit(client, customer, share(client, guide)).status_code == 204
    wiring.customer_repository().set_phone(uid(customer), "13812345678", "138****5678")
    [row] = _listed(client, "/me/distribution/customers", auth(guide))
    assert row["phone_masked"] == "138****5678" and "13812345678" not in json.dumps(row)
    assert (row["orders"], row["spent"]) == (0, 0)


def test_the_console_guide_page_and_odd_ids_or_cursors_never_a_5xx(client, admin_headers):
    import os
    from urllib.parse import quote

    from functions import wiring

    service = wiring.operators()
    cookie = service.issue_session(service.sign_in("owner", os.environ["ADMIN_API_KEY"], "127.0.0.1"))
    headers = {"Cookie": f"console_session={cookie}", "Host": "127.0.0.1"}
    guide = new_distributor(client, admin_headers)
    customer = login(client)
    assert visit(client, customer, share(client, guide)).status_code == 204
    r = client.http.get(f"/console/distributors/{uid(guide)}", headers=headers)
    assert r.status_code == 200, r.body
    assert uid(customer) in r.body.decode() and "绑定中" in r.body.decode()
    for odd in ("nope", "a\r\nb", "张三", "x" * 300, "..", "%2F", " "):
        r = client.http.get(f"/console/distributors/{quote(odd, safe='')}", headers=headers)
        assert r.status_code in (400, 404), (odd, r.status_code)
    for cursor in ("garbage", "x" * 3000, "eyJ9"):
        r = client.http.get(f"/console/distributors/{uid(guide)}?cursor={cursor}", headers=headers)
        assert r.status_code == 400, (cursor, r.status_code)


def test_touches_racing_for_one_customer_leave_one_binding_and_one_open_record(dynamodb):
    """Eight guides touch one customer at once, each thread held at a barrier after its
    first read of the binding, so every one decides from the same (absent) binding and all
    but one must read again. The latest touch holds the binding; its guide's record ends
    with it; every other guide that wrote a record has it ended by the latest touch."""
    import threading
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from layers.domain.attribution import Binding
    from layers.storage.distribution import DynamoDistributorRepository
    from layers.storage.guide_customers import DynamoGuideCustomerReader

    customer = "u_" + uuid.uuid4().hex[:20]
    guides = ["u_" + uuid.uuid4().hex[:20] for _ in range(8)]
    touches = [Binding(customer, g, f"2026-12-01T00:00:{n:02d}Z", f"2026-12-08T00:00:{n:02d}Z")
               for n, g in enumerate(guides)]
    repo = DynamoDistributorRepository()
    barrier, first_read = threading.Barrier(len(touches)), threading.local()
    read = repo.get_binding

    def held(customer_id):
        found = read(customer_id)
        if not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait(timeout=30)
        return found

    repo.get_binding = held
    with ThreadPoolExecutor(len(touches)) as pool:
        wrote = dict(zip(guides, pool.map(lambda b: repo.put_binding(b, ttl_epoch=2_000_000_000), touches),
                         strict=True))
    latest = touches[-1]
    assert read(customer) == latest and wrote[latest.distributor_id]
    reader = DynamoGuideCustomerReader()
    for guide in guides:
        records = [r for r in reader.records(guide, 10, None)[0] if r.customer_id == customer]
        assert len(records) == int(wrote[guide])
        if guide == latest.distributor_id:
            assert records[0].binding_expires_at == latest.expires_at
        elif records:
            assert records[0].binding_expires_at <= latest.bound_at
