"""客户 and 标签 in the console, as operators use them: the list with its filters (yuan,
Beijing time), the phone whole for an owner and masked for an operator (never logged),
a customer's page, manual tags saved from it, tags and their rules created."""

from __future__ import annotations

import io
import logging
import os
import re
import uuid
from urllib.parse import quote

import pytest

from tests.helpers import login, post

pytestmark = pytest.mark.integration

NUMBER = "13655554321"


def _cookie(name: str, password: str) -> str:
    from functions import wiring

    service = wiring.operators()
    return f"console_session={service.issue_session(service.sign_in(name, password))}"


@pytest.fixture
def owner(client):
    return _cookie("owner", os.environ["ADMIN_API_KEY"])


@pytest.fixture
def operator(client):
    from functions import wiring
    from layers.services.operators import Session

    name = "op" + uuid.uuid4().hex[:8]
    wiring.operators().create(Session("owner", "owner"), name, "correct horse 21", "operator")
    return _cookie(name, "correct horse 21")


def page(client, cookie, path):
    r = client.http.get(path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    assert r.status_code == 200, (path, r.status_code, r.body[:300])
    return r.body.decode()


def form(client, cookie, path, fields: list[tuple[str, str]]):
    from functions import wiring

    token = wiring.operators().csrf_token(cookie.split("=", 1)[1])
    data = "&".join(f"{quote(k)}={quote(v)}" for k, v in [("csrf", token), *fields])
    return client.http.post(path, body=data, headers={"Cookie": cookie, "Host": "127.0.0.1",
                                                      "Content-Type": "application/x-www-form-urlencoded"})


def test_customers_and_tags_in_the_console(client, shop, owner, operator):
    from layers.observability import logger

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    level = logger.log_level
    logger.setLevel(logging.DEBUG)
    try:
        shopper = login(client)
        user = shopper["X-User-Id"]
        r = post(client, "/me/phone", {"code": shop["sandbox"].mp.phone_code(NUMBER)}, shopper)
        assert r.status_code == 200, r.body

        tag = f"老客{uuid.uuid4().hex[:6]}"
        r = form(client, owner, "/console/tags", [("name", tag), ("kind", "manual")])
        assert r.status_code == 303, r.body
        rule_tag = f"高消费{uuid.uuid4().hex[:6]}"
        r = form(client, operator, "/console/tags", [("name", rule_tag), ("kind", "rule"), ("min_spent", "500.50"),
                                                     ("min_orders", "2")])
        assert r.status_code == 303, r.body
        tags = page(client, operator, "/console/tags")
        assert tag in tags and rule_tag in tags and "消费至少(元):¥500.50" in tags and "订单数至少:2" in tags
        assert form(client, operator, "/console/tags", [("name", "x"), ("kind", "rule")]).status_code == 400

        # the list: an owner sees the number whole, an operator masked
        listed = page(client, owner, f"/console/customers?q={NUMBER[-4:]}")
        assert NUMBER in listed and user in listed
        listed = page(client, operator, f"/console/customers?q={NUMBER[-4:]}")
        assert NUMBER not in listed and "136****4321" in listed and user in listed
        assert "客户" in listed and 'href="/console/tags"' in listed  # in the frame's navigation

        # the customer's page, tags ticked and saved
        mine = page(client, operator, f"/console/customers/{user}")
        assert "136****4321" in mine and NUMBER not in mine and "未下单客户" in mine
        assert NUMBER in page(client, owner, f"/console/customers/{user}")
        r = form(client, operator, f"/console/customers/{user}/tags", [("tags", tag)])
        assert r.status_code == 303, r.body
        tagged = page(client, operator, f"/console/customers?tag={quote(tag)}")
        assert user in tagged and tag in tagged
        r = form(client, operator, f"/console/customers/{user}/tags", [("tags", rule_tag)])
        assert r.status_code == 422  # a rule tag is the job's
        assert form(client, operator, f"/console/customers/{user}/tags", []).status_code == 303
        assert user not in page(client, operator, f"/console/customers?tag={quote(tag)}")

        # filters: yuan and Beijing time, refused when typed wrong
        for query in ("min_spent=abc", "min_orders=-1", "last_order_after=soon", "last_order_before=0001-01-01T00:00"):
            r = client.http.get(f"/console/customers?{query}", headers={"Cookie": operator, "Host": "127.0.0.1"})
            assert r.status_code == 400, query
        page(client, operator, "/console/customers?min_spent=0.01&min_orders=1&last_order_after=2026-01-01T08:00"
                               "&last_order_before=2099-01-01T00:00&level=%E9%87%91%E5%8D%A1")
        assert client.http.get("/console/customers", headers={"Host": "127.0.0.1"}).status_code == 303
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    logged = buf.getvalue()
    assert user in logged
    for leak in (NUMBER, "136****4321"):
        assert leak not in logged, leak
    # four digits of it as a value of their own (a random hex id or a duration may hold the
    # same four digits inside it: that is not the number)
    for digits in (NUMBER[3:7], NUMBER[-4:]):
        assert not re.search(rf"(?<![0-9A-Za-z]){digits}(?![0-9A-Za-z])", logged), digits
