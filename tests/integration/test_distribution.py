"""Shares, bindings, attribution and commissions, against DynamoDB Local and the sandbox."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.helpers import body, create_product, login, order_payload, post

pytestmark = pytest.mark.integration

DAY = 24 * 3600


# -- steps -----------------------------------------------------------------------------------

def uid(headers: dict) -> str:
    return headers["X-User-Id"]


def auth(headers: dict) -> dict:
    return {"Authorization": headers["Authorization"]}


def new_template(client, admin_headers, tiers=None) -> str:
    r = post(client, "/admin/commission-templates",
             {"name": f"导购-{uuid.uuid4().hex[:6]}", "tiers": tiers or [{"name": "基础", "rate_bps": 500}]},
             admin_headers)
    assert r.status_code == 201, r.body
    return body(r)["id"]


def new_distributor(client, admin_headers, template_id=None, manager_id=None) -> dict:
    """A logged-in shopper made a distributor; their headers."""
    headers = login(client)
    payload = {"user_id": uid(headers), "template_id": template_id or new_template(client, admin_headers)}
    if manager_id:
        payload["manager_id"] = manager_id
    r = post(client, "/admin/distributors", payload, admin_headers)
    assert r.status_code == 201, r.body
    return headers


def share(client, headers, product_id=None) -> str:
    r = post(client, "/shares", {"product_id": product_id} if product_id else {}, auth(headers))
    assert r.status_code == 201, r.body
    return body(r)["share_token"]


def visit(client, headers, token):
    return post(client, f"/shares/{token}/visits", None, auth(headers))


def dashboard(client, headers) -> dict:
    r = client.http.get("/me/distribution", headers=auth(headers))
    assert r.status_code == 200, r.body
    return body(r)


def svc():
    from functions import wiring

    return wiring.distribution()


def place(user_id: str, sku_id: str, quantity: int = 1, share_token: str | None = None, items=None) -> dict:
    from functions import schemas, wiring

    payload = order_payload(sku_id, quantity, **({"share_token": share_token} if share_token else {}))
    if items:
        payload["items"] = items
    return wiring.orders().place_order(user_id, schemas.PlaceOrderInput.model_validate(payload), None)


def pay(shop, order_id: str) -> dict:
    """The order PAID (WeChat says paid; the expiry sweep finds out), and its order.paid payload."""
    from functions import wiring

    shop["sandbox"].pay(order_id, notify=False)
    order = wiring.orders().close_unpaid(order_id, reason="EXPIRED")
    assert order.status == "PAID"
    return {"order_id": order_id, "user_id": order.user_id, "payable": int(order.amounts["payable"])}


def paid_order(shop, user_id, sku_id, quantity=1, share_token=None, items=None) -> dict:
    order = place(user_id, sku_id, quantity, share_token, items)
    payload = pay(shop, order["id"])
    svc().on_order_paid(f"order.paid:{order['id']}", payload)
    return order


def commission_of(distributor_id: str, commission_id: str):
    from functions import wiring

    return wiring.commission_repository().get(distributor_id, commission_id)


def stats_of(distributor_id: str):
    from functions import wiring

    return wiring.commission_repository().stats(distributor_id)


def distributor_of(order_id: str) -> str | None:
    from functions import wiring

    return wiring.order_repository().get(order_id, consistent=True).distributor_id


def binding_of(customer_id: str):
    from functions import wiring

    return wiring.distributor_repository().get_binding(customer_id)


def refund(order_id: str, refund_id: str, amount: int, payable: int, total: int) -> None:
    svc().on_order_refunded(f"order.refunded:{refund_id}", {
        "order_id": order_id, "refund_id": refund_id, "amount": amount,
        "order_payable": payable, "refunded_total": total})


@pytest.fixture
def product(client, admin_headers):
    return create_product(client, admin_headers, price=10_000, stock=500)


# -- shares and bindings ------------------------------------------------------------------------

def test_only_a_distributor_shares_and_the_token_fits_a_scene(client, admin_headers, product):
    shopper = login(client)
    r = post(client, "/shares", {"product_id": product["id"]}, auth(shopper))
    assert r.status_code == 403 and body(r)["error"]["code"] == "FORBIDDEN"

    guide = new_distributor(client, admin_headers)
    r = post(client, "/shares", {"product_id": product["id"]}, auth(guide))
    assert r.status_code == 201, r.body
    data = body(r)
    assert len(f"s={data['share_token']}") <= 32
    assert data["path"] == f"pages/product/index?id={product['id']}&s={data['share_token']}"
    assert share(client, guide) != data["share_token"]  # random, not derived
    r = post(client, "/shares", {"product_id": "nope"}, auth(guide))
    assert r.status_code == 404


def test_last_touch_wins(client, admin_headers, product, shop):
    a, b = new_distributor(client, admin_headers), new_distributor(client, admin_headers)
    customer = login(client)
    assert visit(client, customer, share(client, a, product["id"])).status_code == 204
    assert dashboard(client, a)["customers"] == 1
    assert visit(client, customer, share(client, b)).status_code == 204
    assert dashboard(client, a)["customers"] == 0
    assert dashboard(client, b)["customers"] == 1

    order = paid_order(shop, uid(customer), product["skus"][0]["id"])
    assert distributor_of(order["id"]) == uid(b)
    assert commission_of(uid(b), order["id"]).amount == 500  # 5% of 10000
    assert commission_of(uid(a), order["id"]) is None
    # A share token on the order beats the binding, and binds as a visit would.
    order = place(uid(customer), product["skus"][0]["id"], share_token=share(client, a))
    assert distributor_of(order["id"]) == uid(a)
    assert dashboard(client, a)["customers"] == 1 and dashboard(client, b)["customers"] == 0


def test_a_binding_expires(client, admin_headers, product, monkeypatch):
    import layers.clock

    a = new_distributor(client, admin_headers)
    customer = login(client)
    assert visit(client, customer, share(client, a)).status_code == 204
    order = place(uid(customer), product["skus"][0]["id"])
    assert distributor_of(order["id"]) == uid(a)

    start = layers.clock.now()
    monkeypatch.setattr(layers.clock, "now", lambda: start + timedelta(days=7, seconds=1))
    assert svc().distributor_for_order(uid(customer), None, layers.clock.now_iso()) is None
    assert dashboard(client, a)["customers"] == 0
    # Before expiry it held: one second short of seven days.
    monkeypatch.setattr(layers.clock, "now", lambda: start + timedelta(days=7, seconds=-5))
    assert svc().distributor_for_order(uid(customer), None, layers.clock.now_iso()) == uid(a)


def test_a_distributor_never_earns_on_their_own_purchase(client, admin_headers, product, shop):
    a = new_distributor(client, admin_headers)
    token = share(client, a)
    assert visit(client, a, token).status_code == 204
    assert dashboard(client, a)["customers"] == 0
    order = paid_order(shop, uid(a), product["skus"][0]["id"], share_token=token)
    assert distributor_of(order["id"]) is None
    assert commission_of(uid(a), order["id"]) is None
    assert dashboard(client, a)["sales_count"] == 0


def test_a_forged_or_unknown_token_is_404_and_binds_nothing(client, admin_headers, product):
    a = new_distributor(client, admin_headers)
    customer = login(client)
    real = share(client, a)
    forged = real[:-1] + ("A" if real[-1] != "A" else "B")
    for token in (forged, "x" * 22, "abc"):
        r = visit(client, customer, token)
        assert r.status_code == 404, token
        assert body(r)["error"]["code"] == "NOT_FOUND"
    assert binding_of(uid(customer)) is None
    order = place(uid(customer), product["skus"][0]["id"], share_token=forged)
    assert distributor_of(order["id"]) is None
    assert binding_of(uid(customer)) is None


# -- commissions ------------------------------------------------------------------------------------

def test_tier_rate_and_fixed_rate(client, admin_headers, shop):
    tiered = create_product(client, admin_headers, price=3333, stock=50)
    fixed = create_product(client, admin_headers, price=6667, stock=50,
                           commission={"mode": "fixed", "rate_bps": 1500})
    a = new_distributor(client, admin_headers, new_template(client, admin_headers,
                                                            [{"name": "基础", "rate_bps": 700}]))
    customer = login(client)
    items = [{"sku_id": tiered["skus"][0]["id"], "quantity": 1}, {"sku_id": fixed["skus"][0]["id"], "quantity": 1}]
    order = paid_order(shop, uid(customer), None, share_token=share(client, a), items=items)
    c = commission_of(uid(a), order["id"])
    assert {ln["sku_id"]: ln["rate_bps"] for ln in c.lines} == {
        tiered["skus"][0]["id"]: 700, fixed["skus"][0]["id"]: 1500}
    assert c.amount == 3333 * 700 // 10_000 + 6667 * 1500 // 10_000  # 233 + 1000, rounded down
    d = dashboard(client, a)
    assert d["commissions"]["pending"] == c.amount
    assert d["sales_count"] == 1 and d["sales_amount"] == 10_000
    assert d["tier"] == {"name": "基础", "rate_bps": 700}


def test_a_refund_of_a_line_takes_back_that_lines_commission(client, admin_headers, shop):
    """A real refund of one line, through the refund service to its `order.refunded`
    event: the fixed-rate line's commission goes, the other line keeps all of its own."""
    from functions import schemas, wiring
    from tests.integration.test_payments import drain_events_queue

    tiered = create_product(client, admin_headers, price=3333, stock=50)
    fixed = create_product(client, admin_headers, price=6667, stock=50,
                           commission={"mode": "fixed", "rate_bps": 1500})
    a = new_distributor(client, admin_headers, new_template(client, admin_headers,
                                                            [{"name": "基础", "rate_bps": 700}]))
    customer = login(client)
    fixed_sku = fixed["skus"][0]["id"]
    items = [{"sku_id": tiered["skus"][0]["id"], "quantity": 1}, {"sku_id": fixed_sku, "quantity": 1}]
    order = paid_order(shop, uid(customer), None, share_token=share(client, a), items=items)
    assert commission_of(uid(a), order["id"]).amount == 233 + 1000
    refund = wiring.refunds().request_refund(uid(customer), order["id"], schemas.RefundInput(
        items=[{"sku_id": fixed_sku, "quantity": 1}], reason="不要这件"), None)
    assert refund["amount"] == 6667
    wiring.refunds().on_refund_result(refund["id"], "SUCCESS")
    [event] = [m for m in drain_events_queue(shop["sqs"])
               if m["type"] == "order.refunded" and m["payload"]["refund_id"] == refund["id"]]
    payload = event["payload"]
    assert payload["lines"] == [{"line": 1, "sku_id": fixed_sku, "units": 1, "amount": 6667}]
    svc().on_order_refunded(f"order.refunded:{refund['id']}", payload)
    c = commission_of(uid(a), order["id"])
    assert (c.amount, c.reversed, c.sales_base) == (233, 1000, 3333)
    assert dashboard(client, a)["sales_amount"] == 3333


def test_a_tier_upgrade_at_the_threshold(client, admin_headers, product, shop):
    template = new_template(client, admin_headers, [
        {"name": "铜牌", "rate_bps": 300}, {"name": "银牌", "rate_bps": 800, "min_sales_count": 2}])
    a = new_distributor(client, admin_headers, template)
    customer = login(client)
    assert visit(client, customer, share(client, a)).status_code == 204
    sku = product["skus"][0]["id"]
    first, second = paid_order(shop, uid(customer), sku), paid_order(shop, uid(customer), sku)
    assert commission_of(uid(a), first["id"]).amount == 300
    assert commission_of(uid(a), second["id"]).amount == 300  # reaches the threshold
    assert dashboard(client, a)["tier"] == {"name": "银牌", "rate_bps": 800}
    third = paid_order(shop, uid(customer), sku)
    assert commission_of(uid(a), third["id"]).amount == 800
    assert dashboard(client, a)["commissions"]["pending"] == 1400


def test_a_partial_refund_reverses_in_proportion_once(client, admin_headers, product, shop):
    a = new_distributor(client, admin_headers)
    customer = login(client)
    order = paid_order(shop, uid(customer), product["skus"][0]["id"], 3, share_token=share(client, a))
    assert commission_of(uid(a), order["id"]).amount == 1500
    refund(order["id"], f"{order['id']}R1", 10_001, 30_000, 10_001)
    refund(order["id"], f"{order['id']}R1", 10_001, 30_000, 10_001)  # the same refund again
    c = commission_of(uid(a), order["id"])
    kept = 1500 * (30_000 - 10_001) // 30_000
    assert (c.amount, c.reversed, c.status) == (kept, 1500 - kept, "PENDING")
    d = dashboard(client, a)
    assert d["commissions"]["pending"] == kept and d["commissions"]["reversed"] == 1500 - kept
    assert d["sales_count"] == 1 and d["sales_amount"] == 30_000 * 19_999 // 30_000

    refund(order["id"], f"{order['id']}R2", 19_999, 30_000, 30_000)
    c = commission_of(uid(a), order["id"])
    assert (c.amount, c.reversed, c.status) == (0, 1500, "REVERSED")
    d = dashboard(client, a)
    assert d["commissions"] == {"pending": 0, "settleable": 0, "settled": 0, "reversed": 1500, "debt": 0,
                                "deducted": 0}
    assert d["sales_count"] == 0 and d["sales_amount"] == 0


def test_concurrent_refunds_reverse_exactly(client, admin_headers, product, shop):
    a = new_distributor(client, admin_headers)
    customer = login(client)
    order = paid_order(shop, uid(customer), product["skus"][0]["id"], 5, share_token=share(client, a))
    assert commission_of(uid(a), order["id"]).amount == 2500
    ids = [f"{order['id']}C{i}" for i in range(5)]

    def go(rid):
        refund(order["id"], rid, 7_000, 50_000, 0)  # totals unknown: each counts on its own

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(go, ids + ids))  # and each one twice
    c = commission_of(uid(a), order["id"])
    assert c.refunded == 35_000
    assert c.amount == 2500 * 15_000 // 50_000
    assert dashboard(client, a)["commissions"]["reversed"] == 2500 - c.amount


def test_freeze_then_settleable(client, admin_headers, product, shop):
    from layers import clock

    a = new_distributor(client, admin_headers)
    customer = login(client)
    order = paid_order(shop, uid(customer), product["skus"][0]["id"], share_token=share(client, a))
    completed_at = clock.now_iso()
    svc().on_order_completed(f"order.completed:{order['id']}", {"order_id": order["id"], "completed_at": completed_at})
    c = commission_of(uid(a), order["id"])
    assert c.settleable_at == clock.iso(clock.parse_iso(completed_at) + timedelta(days=7))
    # The table is shared with other tests' commissions: judge this one by its own status.
    svc().make_due_settleable(clock.now() + timedelta(days=6))
    assert commission_of(uid(a), order["id"]).status == "PENDING"
    svc().make_due_settleable(clock.now() + timedelta(days=7, seconds=1))
    assert commission_of(uid(a), order["id"]).status == "SETTLEABLE"
    assert [i.order_id for i in svc().list_settleable(uid(a))] == [order["id"]]
    d = dashboard(client, a)
    assert d["commissions"]["pending"] == 0 and d["commissions"]["settleable"] == 500


def test_a_refund_after_payout_becomes_a_debt_owed_once(client, admin_headers, product, shop):
    from functions import wiring
    from layers import clock
    from layers.domain import commission_entry as cm

    a = new_distributor(client, admin_headers)
    customer = login(client)
    order = paid_order(shop, uid(customer), product["skus"][0]["id"], 2, share_token=share(client, a))
    svc().on_order_completed("e", {"order_id": order["id"], "completed_at": clock.now_iso()})
    svc().make_due_settleable(clock.now() + timedelta(days=8))
    # What the settlement does: SETTLEABLE -> SETTLING -> SETTLED.
    repo = wiring.commission_repository()
    for step in (lambda c: cm.claim(c, "P-test", clock.now_iso()), lambda c: cm.settle(c, clock.now_iso())):
        change = step(commission_of(uid(a), order["id"]))
        tx = wiring.new_tx()()
        repo.stage_change(tx, change.before, change.after, on_stale=RuntimeError)
        repo.stage_stats(tx, uid(a), change.stats)
        tx.commit()
    assert dashboard(client, a)["commissions"]["settled"] == 1000

    refund(order["id"], f"{order['id']}R1", 5_000, 20_000, 5_000)
    refund(order["id"], f"{order['id']}R1", 5_000, 20_000, 5_000)
    [entry] = repo.debt_entries(uid(a))
    assert (entry.kind, entry.amount, entry.order_id, entry.refund_id) == (
        "DEBT", 250, order["id"], f"{order['id']}R1")
    assert commission_of(uid(a), cm.adjustment_id(f"{order['id']}R1")) is None
    assert commission_of(uid(a), order["id"]).status == "SETTLED"
    assert svc().list_settleable(uid(a)) == []
    d = dashboard(client, a)
    assert d["commissions"] == {"pending": 0, "settleable": 0, "settled": 1000, "reversed": 250, "debt": 250,
                                "deducted": 0}


def test_duplicate_paid_events_accrue_once(client, admin_headers, product, shop):
    a = new_distributor(client, admin_headers)
    customer = login(client)
    order = place(uid(customer), product["skus"][0]["id"], share_token=share(client, a))
    payload = pay(shop, order["id"])
    svc().on_order_paid(f"order.paid:{order['id']}", payload)
    svc().on_order_paid(f"order.paid:{order['id']}", payload)
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda _: svc().on_order_paid(f"order.paid:{order['id']}", payload), range(10)))
    d = dashboard(client, a)
    assert d["sales_count"] == 1 and d["commissions"]["pending"] == 500


def test_concurrent_first_accruals_accrue_once(client, admin_headers, product, shop):
    a = new_distributor(client, admin_headers)
    customer = login(client)
    order = place(uid(customer), product["skus"][0]["id"], share_token=share(client, a))
    payload = pay(shop, order["id"])
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda _: svc().on_order_paid(f"order.paid:{order['id']}", payload), range(10)))
    d = dashboard(client, a)
    assert d["sales_count"] == 1 and d["commissions"]["pending"] == 500


# -- managers and operators ------------------------------------------------------------------------

def test_a_manager_sees_only_their_group(client, admin_headers, product, shop):
    m1, m2, nobody = login(client), login(client), login(client)
    template = new_template(client, admin_headers)
    a = new_distributor(client, admin_headers, template, uid(m1))
    b = new_distributor(client, admin_headers, template, uid(m1))
    c = new_distributor(client, admin_headers, template, uid(m2))
    paid_order(shop, uid(login(client)), product["skus"][0]["id"], share_token=share(client, a))

    r = client.http.get("/manager/distributors", headers=auth(m1))
    assert r.status_code == 200, r.body
    rows = {row["id"]: row for row in body(r)["items"]}
    assert set(rows) == {uid(a), uid(b)}
    assert rows[uid(a)]["commissions"]["pending"] == 500 and rows[uid(a)]["sales_count"] == 1
    r = client.http.get("/manager/distributors", headers=auth(m2))
    assert {row["id"] for row in body(r)["items"]} == {uid(c)}
    r = client.http.get("/manager/distributors", headers=auth(nobody))
    assert r.status_code == 403 and body(r)["error"]["code"] == "FORBIDDEN"
    r = client.http.get("/manager/distributors", headers=auth(a))  # a distributor is not a manager
    assert r.status_code == 403
    # a guide's customers: of the caller's own group only
    r = client.http.get(f"/manager/distributors/{uid(a)}/customers", headers=auth(m1))
    assert r.status_code == 200 and len(body(r)["items"]) == 1 and body(r)["items"][0]["orders"] in (0, 1)
    for caller, guide in ((m2, a), (m1, c), (nobody, a), (a, b)):
        r = client.http.get(f"/manager/distributors/{uid(guide)}/customers", headers=auth(caller))
        assert r.status_code == 403 and body(r)["error"]["code"] == "FORBIDDEN"

    r = client.http.get(f"/admin/managers/{uid(m1)}/distributors", headers=admin_headers)
    assert {row["id"] for row in body(r)["items"]} == {uid(a), uid(b)}
    r = client.http.get("/manager/distributors?format=csv", headers=auth(m1))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    lines = r.body.decode().strip().splitlines()
    assert lines[0].startswith("id,manager_id") and len(lines) == 3

    # Moving b to m2 moves them out of m1's view.
    assert post(client, "/admin/distributors", {"user_id": uid(b), "template_id": template,
                                                "manager_id": uid(m2)}, admin_headers).status_code == 200
    r = client.http.get("/manager/distributors", headers=auth(m1))
    assert {row["id"] for row in body(r)["items"]} == {uid(a)}
    r = client.http.get(f"/manager/distributors/{uid(b)}/customers", headers=auth(m1))
    assert r.status_code == 403
    assert client.http.get(f"/manager/distributors/{uid(b)}/customers", headers=auth(m2)).status_code == 200
    # A shopper token is never an admin credential.
    assert client.http.get(f"/admin/managers/{uid(m1)}/distributors", headers=auth(m1)).status_code == 401

    # Adding guides: a manager adds to their own group only, and sees only that group.
    # (m1 and m2 were made managers by managing someone: they have no template, so the
    # guide they add gets the one given to their profile here.)
    for m in (m1, m2):
        assert post(client, "/admin/managers", {"user_id": uid(m), "template_id": template},
                    admin_headers).status_code == 201
    new_guide = login(client)
    r = post(client, "/manager/distributors", {"user_id": uid(new_guide)}, auth(m1))
    assert r.status_code == 201 and body(r)["manager_id"] == uid(m1)
    for caller, guide in ((m2, new_guide), (m2, a), (m1, c)):  # another manager's guide stays theirs
        r = post(client, "/manager/distributors", {"user_id": uid(guide)}, auth(caller))
        assert r.status_code == 409 and body(r)["error"]["code"] == "IN_ANOTHER_GROUP"
    for caller in (nobody, a):  # not a manager: adds no one
        r = post(client, "/manager/distributors", {"user_id": uid(login(client))}, auth(caller))
        assert r.status_code == 403 and body(r)["error"]["code"] == "FORBIDDEN"
    r = client.http.get("/manager/distributors", headers=auth(m1))
    assert {row["id"] for row in body(r)["items"]} == {uid(a), uid(new_guide)}
    r = client.http.get("/manager/distributors", headers=auth(m2))
    assert {row["id"] for row in body(r)["items"]} == {uid(b), uid(c)}
    assert client.http.get(f"/manager/distributors/{uid(new_guide)}/customers",
                           headers=auth(m2)).status_code == 403


def test_the_owner_sees_all_and_exports_csv(client, admin_headers):
    a = new_distributor(client, admin_headers)
    r = client.http.get(f"/admin/distributors/{uid(a)}", headers=admin_headers)
    assert r.status_code == 200 and body(r)["id"] == uid(a)
    assert client.http.get("/admin/distributors/nope", headers=admin_headers).status_code == 404
    r = client.http.get("/admin/distributors?limit=100", headers=admin_headers)
    assert r.status_code == 200 and "items" in body(r)
    for path in ("/admin/distributors.csv", "/admin/distributors?format=csv"):
        r = client.http.get(path, headers=admin_headers)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
        assert uid(a) in r.body.decode()


def test_bad_input_is_refused_and_changes_nothing(client, admin_headers):
    bad = [{"name": "x", "tiers": []}, {"name": "x", "tiers": [{"name": "a", "rate_bps": 10_001}]},
           {"name": "x", "tiers": [{"name": "a", "rate_bps": 1}, {"name": "a", "rate_bps": 2}]}]
    for payload in bad:
        r = post(client, "/admin/commission-templates", payload, admin_headers)
        assert r.status_code == 400, payload
    shopper = login(client)
    r = post(client, "/admin/distributors", {"user_id": "u_nobody", "template_id": "x"}, admin_headers)
    assert r.status_code == 404
    r = post(client, "/admin/distributors", {"user_id": uid(shopper), "template_id": "nope"}, admin_headers)
    assert r.status_code == 404
    r = client.http.get("/me/distribution", headers=auth(shopper))
    assert r.status_code == 403


def test_a_commission_is_on_what_the_buyer_paid_for_the_goods_and_the_recount_sees_it(client, admin_headers,
                                                                                      shop):
    """Points spent are money nobody paid: the commission's base is `payable - shipping`,
    shared out to the lines; the offline recount counts this commission as one the rule
    changed (0 on a shop whose orders spent no points and had no member discount)."""
    from functions import wiring
    from layers.domain.members import POINTS, Movement
    from layers.storage.tx import Tx
    from local.commission_recount import count

    a = create_product(client, admin_headers, price=6_000, stock=50)["skus"][0]["id"]
    b = create_product(client, admin_headers, price=3_000, stock=50)["skus"][0]["id"]
    guide = new_distributor(client, admin_headers)
    buyer = login(client)
    tx = Tx()
    wiring.member_repository().stage_move(tx, Movement(uid(buyer), POINTS, "test#grant", "grant",
                                                       "2026-11-29T00:00:00Z", available=900), None, None)
    tx.commit()
    from functions import schemas

    payload = order_payload(a, 1, share_token=share(client, guide), points=900)
    payload["items"] = [{"sku_id": a, "quantity": 1}, {"sku_id": b, "quantity": 1}]
    order = wiring.orders().place_order(uid(buyer), schemas.PlaceOrderInput.model_validate(payload), None)
    assert order["amounts"]["points_discount"] == 900
    svc().on_order_paid(f"order.paid:{order['id']}", pay(shop, order["id"]))
    c = commission_of(uid(guide), order["id"])
    paid_goods = order["amounts"]["payable"] - order["amounts"]["shipping"]
    assert paid_goods == 8_100 and c.base == 8_100
    assert [ln["base"] for ln in c.lines] == [5_400, 2_700] and c.amount == 8_100 * 500 // 10_000
    assert count([c], wiring.order_repository().get)["would_change"] == 1
