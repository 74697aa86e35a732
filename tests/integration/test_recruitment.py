"""Recruitment on DynamoDB Local: applications, decisions and managers adding guides, over
HTTP, and the invariants under concurrency (one application per shopper, one distributor
and one decision per approval, one group per guide)."""

from __future__ import annotations

import json
import threading
import uuid
from types import SimpleNamespace

import pytest

from layers.domain import errors
from tests.helpers import body, login, post

pytestmark = pytest.mark.integration


def uid(headers: dict) -> str:
    return headers["X-User-Id"]


def auth(headers: dict) -> dict:
    return {"Authorization": headers["Authorization"]}


@pytest.fixture
def rules(client, admin_headers):
    """Set shop rules; the rules as they were afterwards (other tests share the table)."""
    from functions import wiring
    from layers import clock

    repo = wiring.shop_settings_repository()
    before = repo.load_settings(fresh=True)

    def put(**values):
        return client.http.put("/admin/settings", body=json.dumps(values), headers=admin_headers)

    yield put
    repo.save_settings(before, clock.now_iso())
    wiring.reset()


def new_template(client, admin_headers) -> str:
    r = post(client, "/admin/commission-templates",
             {"name": f"招募-{uuid.uuid4().hex[:6]}", "tiers": [{"name": "基础", "rate_bps": 500}]}, admin_headers)
    assert r.status_code == 201, r.body
    return body(r)["id"]


def new_manager(client, admin_headers, template_id=None) -> dict:
    headers = login(client)
    payload = {"user_id": uid(headers), **({"template_id": template_id} if template_id else {})}
    r = post(client, "/admin/managers", payload, admin_headers)
    assert r.status_code == 201, r.body
    assert body(r)["template_id"] == template_id
    return headers


def apply(client, headers, name="王小明", **extra):
    return post(client, "/distributor-applications", {"name": name, **extra}, auth(headers))


def distributor(user_id: str):
    from functions import wiring

    return wiring.distributor_repository().get(user_id, consistent=True)


def all_at_once(n: int, fn) -> list:
    """`fn(i)` in n threads released together; each answer, or the domain error it raised."""
    barrier = threading.Barrier(n)
    answers: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            answers[i] = fn(i)
        except errors.DomainError as exc:
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


# -- over HTTP -----------------------------------------------------------------------------------

def test_approval_by_default_then_a_decision_once(client, admin_headers, rules):
    shopper = login(client)
    assert client.http.post("/distributor-applications", body="{}",
                            headers={"Content-Type": "application/json"}).status_code == 401
    r = apply(client, shopper, note="门店导购,会员群 300 人")
    assert r.status_code == 201, r.body
    app = body(r)
    assert app["status"] == "PENDING" and app["id"]
    r = apply(client, shopper)
    assert r.status_code == 201 and body(r)["id"] == app["id"]
    r = client.http.get("/me/distributor-application", headers=auth(shopper))
    assert r.status_code == 200 and body(r)["id"] == app["id"] and "decided_by" not in body(r)
    assert client.http.get("/me/distributor-application", headers=auth(login(client))).status_code == 404

    r = client.http.get("/admin/distributor-applications?status=PENDING&limit=100", headers=admin_headers)
    assert r.status_code == 200 and app["id"] in [a["id"] for a in body(r)["items"]]
    assert client.http.get("/admin/distributor-applications?status=NOPE",
                           headers=admin_headers).status_code == 400
    assert client.http.get("/admin/distributor-applications", headers=auth(shopper)).status_code == 401

    path = f"/admin/distributor-applications/{app['id']}"
    r = post(client, path + "/approve", {}, admin_headers)  # no template anywhere
    assert r.status_code == 422 and body(r)["error"]["code"] == "NO_TEMPLATE"
    r = post(client, path + "/approve", {"template_id": "ct_nope"}, admin_headers)
    assert r.status_code == 422 and body(r)["error"]["code"] == "UNKNOWN_TEMPLATE"
    assert distributor(uid(shopper)) is None
    template = new_template(client, admin_headers)
    r = post(client, path + "/approve", {"template_id": template}, admin_headers)
    assert r.status_code == 200, r.body
    assert body(r)["status"] == "APPROVED" and body(r)["decided_by"] == "owner"
    assert distributor(uid(shopper)).template_id == template
    for action in ("/approve", "/reject"):
        r = post(client, path + action, {}, admin_headers)
        assert r.status_code == 409 and body(r)["error"]["code"] == "APPLICATION_DECIDED"
    r = apply(client, shopper)
    assert r.status_code == 409 and body(r)["error"]["code"] == "ALREADY_DISTRIBUTOR"
    assert client.http.get("/me/distribution", headers=auth(shopper)).status_code == 200
    assert post(client, "/admin/distributor-applications/da_nope/reject", {}, admin_headers).status_code == 404


def test_a_rejection_lets_the_shopper_ask_again(client, admin_headers, rules):
    shopper = login(client)
    first = body(apply(client, shopper))
    r = post(client, f"/admin/distributor-applications/{first['id']}/reject", {"reason": "请先完成实名"},
             admin_headers)
    assert r.status_code == 200 and body(r)["status"] == "REJECTED"
    mine = body(client.http.get("/me/distributor-application", headers=auth(shopper)))
    assert mine["status"] == "REJECTED" and mine["reason"] == "请先完成实名"
    r = apply(client, shopper)
    assert r.status_code == 201 and body(r)["id"] != first["id"] and body(r)["status"] == "PENDING"
    r = client.http.get("/admin/distributor-applications?status=REJECTED&limit=100", headers=admin_headers)
    assert first["id"] in [a["id"] for a in body(r)["items"]]
    stranger = login(client)
    for bad in ({}, {"name": ""}, {"name": "x" * 33}, {"name": "王", "extra": 1}, {"name": 5}):
        r = post(client, "/distributor-applications", bad, auth(stranger))
        assert r.status_code == 400 and body(r)["error"]["code"] == "INVALID_REQUEST"
    assert client.http.get("/me/distributor-application", headers=auth(stranger)).status_code == 404


def test_settings_closed_and_open(client, admin_headers, rules):
    r = rules(distributor_recruitment="open")
    assert r.status_code == 422 and body(r)["error"]["code"] == "NO_TEMPLATE"
    r = rules(distributor_template_id="ct_nope")
    assert r.status_code == 422 and body(r)["error"]["code"] == "UNKNOWN_TEMPLATE"
    r = rules(distributor_recruitment="whenever")
    assert r.status_code == 400
    assert body(client.http.get("/admin/settings", headers=admin_headers))["distributor_recruitment"] == "approval"

    assert rules(distributor_recruitment="closed").status_code == 200
    shopper = login(client)
    r = apply(client, shopper)
    assert r.status_code == 403 and body(r)["error"]["code"] == "RECRUITMENT_CLOSED"
    assert client.http.get("/me/distributor-application", headers=auth(shopper)).status_code == 404

    template = new_template(client, admin_headers)
    r = rules(distributor_recruitment="open", distributor_template_id=template)
    assert r.status_code == 200, r.body
    r = apply(client, shopper)
    assert r.status_code == 201 and body(r)["status"] == "APPROVED"
    assert distributor(uid(shopper)).template_id == template


def test_managers_with_a_template_add_their_own_guides(client, admin_headers, rules):
    template = new_template(client, admin_headers)
    r = post(client, "/admin/managers", {"user_id": uid(login(client)), "template_id": "ct_nope"}, admin_headers)
    assert r.status_code == 422 and body(r)["error"]["code"] == "UNKNOWN_TEMPLATE"
    m1, m2 = new_manager(client, admin_headers, template), new_manager(client, admin_headers, template)
    bare = new_manager(client, admin_headers)
    guide = login(client)
    r = post(client, "/manager/distributors", {"user_id": uid(guide)}, auth(m1))
    assert r.status_code == 201, r.body
    assert body(r)["manager_id"] == uid(m1) and body(r)["template_id"] == template
    r = post(client, "/manager/distributors", {"user_id": uid(guide)}, auth(m1))
    assert r.status_code == 200 and body(r)["manager_id"] == uid(m1)
    r = post(client, "/manager/distributors", {"user_id": uid(guide)}, auth(m2))
    assert r.status_code == 409 and body(r)["error"]["code"] == "IN_ANOTHER_GROUP"
    r = post(client, "/manager/distributors", {"user_id": uid(login(client))}, auth(bare))
    assert r.status_code == 422 and body(r)["error"]["code"] == "NO_TEMPLATE"
    r = post(client, "/manager/distributors", {"user_id": uid(login(client))}, auth(guide))  # not a manager
    assert r.status_code == 403
    r = post(client, "/manager/distributors", {"user_id": "u_nobody"}, auth(m1))
    assert r.status_code == 404
    r = client.http.get(f"/admin/managers/{uid(m1)}/distributors", headers=admin_headers)
    assert [d["id"] for d in body(r)["items"]] == [uid(guide)]

    # An application approved into a manager's group while its shopper is in another: 409.
    applicant = login(client)
    app = body(apply(client, applicant))
    assert post(client, "/manager/distributors", {"user_id": uid(applicant)}, auth(m2)).status_code == 201
    r = post(client, f"/admin/distributor-applications/{app['id']}/approve", {"manager_id": uid(m1)},
             admin_headers)
    assert r.status_code == 409 and body(r)["error"]["code"] == "IN_ANOTHER_GROUP"
    assert distributor(uid(applicant)).manager_id == uid(m2)
    r = post(client, f"/admin/distributor-applications/{app['id']}/approve", {"manager_id": uid(m2)},
             admin_headers)
    assert r.status_code == 200 and body(r)["template_id"] == template


# -- concurrency ----------------------------------------------------------------------------------

def test_ten_applications_at_once_make_one(client, admin_headers, rules):
    from functions import wiring

    for mode in ("approval", "open"):
        if mode == "open":
            assert rules(distributor_recruitment="open",
                         distributor_template_id=new_template(client, admin_headers)).status_code == 200
        shopper = uid(login(client))
        svc = wiring.recruitment()
        answers = all_at_once(10, lambda i, svc=svc, shopper=shopper: svc.apply(
            shopper, SimpleNamespace(name=f"申请{i}", note=None))[0])
        assert all(isinstance(a, dict) for a in answers), answers
        assert len({a["id"] for a in answers}) == 1
        assert {a["status"] for a in answers} == {"PENDING" if mode == "approval" else "APPROVED"}
        listed = [a for a in svc.list(None, 100, None)[0] if a["user_id"] == shopper]
        assert len(listed) == 1 and listed[0]["id"] == answers[0]["id"]
        assert (distributor(shopper) is not None) == (mode == "open")


def test_approvals_at_once_make_one_distributor_and_one_decision(client, admin_headers, rules):
    from functions import wiring

    template = new_template(client, admin_headers)
    manager = new_manager(client, admin_headers, template)
    shopper = login(client)
    app = body(apply(client, shopper))
    svc = wiring.recruitment()
    answers = all_at_once(8, lambda i: svc.approve(
        app["id"], SimpleNamespace(template_id=None, manager_id=uid(manager)), f"operator-{i}")
        if i % 2 else svc.reject(app["id"], SimpleNamespace(reason=f"no {i}"), f"operator-{i}"))
    decided = [a for a in answers if isinstance(a, dict)]
    refused = [a for a in answers if isinstance(a, errors.DomainError)]
    assert len(decided) == 1 and len(refused) == 7, answers
    assert {e.code for e in refused} == {"APPLICATION_DECIDED"}
    stored = svc.get(app["id"])
    assert stored["status"] == decided[0]["status"] and stored["decided_by"] == decided[0]["decided_by"]
    d = distributor(uid(shopper))
    if stored["status"] == "APPROVED":
        assert d is not None and d.manager_id == uid(manager)
        group, _ = wiring.distribution().list_group(uid(manager), 100, None)
        assert [g["id"] for g in group] == [uid(shopper)]
    else:
        assert d is None
    # approvals only: exactly one distributor made, one decision
    other = login(client)
    app = body(apply(client, other))
    answers = all_at_once(8, lambda i: svc.approve(app["id"], SimpleNamespace(template_id=template, manager_id=None),
                                                   f"operator-{i}"))
    assert sum(isinstance(a, dict) for a in answers) == 1
    assert all(a.code == "APPLICATION_DECIDED" for a in answers if not isinstance(a, dict))
    made = distributor(uid(other))
    winner = next(a for a in answers if isinstance(a, dict))
    assert made.template_id == template and svc.get(app["id"])["decided_by"] == winner["decided_by"]
    assert made.created_at == made.updated_at  # written once


def test_two_managers_adding_one_shopper_at_once_leave_one_group(client, admin_headers, rules):
    from functions import wiring

    template = new_template(client, admin_headers)
    for _ in range(3):
        managers = [uid(new_manager(client, admin_headers, template)) for _ in range(2)]
        shopper = uid(login(client))
        svc = wiring.recruitment()
        answers = all_at_once(8, lambda i, svc=svc, managers=managers, shopper=shopper: svc.add_guide(
            managers[i % 2], SimpleNamespace(user_id=shopper)))
        won = {a[0]["manager_id"] for a in answers if isinstance(a, tuple)}
        assert len(won) == 1, answers
        winner = won.pop()
        refused = [a for a in answers if not isinstance(a, tuple)]
        assert refused and {e.code for e in refused} == {"IN_ANOTHER_GROUP"}
        assert sum(1 for a in answers if isinstance(a, tuple) and a[1]) == 1  # added once
        assert distributor(shopper).manager_id == winner
        loser = next(m for m in managers if m != winner)
        for m, expected in ((winner, [shopper]), (loser, [])):
            ids, _ = wiring.distributor_repository().group(m, 100, None)
            assert ids == expected
