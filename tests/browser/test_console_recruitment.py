"""分销 → 分销员申请 in the console: an owner approves an application with a template and
a manager (the shopper becomes a distributor in that group), rejects another with a reason
the shopper reads, and a rejection without one is refused and changes nothing; the
recruitment settings save and take effect; a manager made with a template shows it. At a
laptop's and a phone's width."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import wait_until
from tests.browser.test_console import owner_signs_in
from tests.browser.test_console_distribution_pool import fits
from tests.helpers import body, login, post
from tests.integration.test_recruitment import apply, auth, uid

pytestmark = pytest.mark.integration


@pytest.fixture
def rules_after():
    """Other tests share the table: the shop's rules as they were afterwards."""
    from functions import wiring
    from layers import clock

    repo = wiring.shop_settings_repository()
    before = repo.load_settings(fresh=True)
    yield
    repo.save_settings(before, clock.now_iso())
    wiring.reset()


def template_named(client, admin_headers, name: str) -> str:
    r = post(client, "/admin/commission-templates", {"name": name, "tiers": [{"name": "基础", "rate_bps": 500}]},
             admin_headers)
    assert r.status_code == 201, r.body
    return body(r)["id"]


def the_row(page, application_id: str):
    """The application's row, loading more of the queue (oldest first: other tests' pending
    applications may come before it) until it shows."""
    row = page.locator(f"tr[data-application='{application_id}']")
    while row.count() == 0:
        assert page.locator("#more-applications button").count() == 1, f"{application_id} not in the queue"
        before = page.locator("tr[data-application]").count()
        page.click("#more-applications button")
        wait_until(lambda before=before: page.locator("tr[data-application]").count() > before
                   or row.count() > 0)
    return row


def mine(client, shopper) -> dict:
    r = client.http.get("/me/distributor-application", headers=auth(shopper))
    assert r.status_code == 200, r.body
    return body(r)


def test_approve_with_a_template_and_a_manager_and_reject_with_a_reason(browser_page, console_url, client,
                                                                     admin_headers, shop):
    from functions import wiring

    page = browser_page
    name = "招募方案" + uuid.uuid4().hex[:6]
    template = template_named(client, admin_headers, name)
    boss = login(client)
    r = post(client, "/admin/managers", {"user_id": uid(boss), "name": "赵团长"}, admin_headers)
    assert r.status_code == 201, r.body
    joiner, refused = login(client), login(client)
    first = body(apply(client, joiner, name="王小明", note="我有很多朋友"))
    second = body(apply(client, refused, name="李小红"))
    assert first["status"] == second["status"] == "PENDING"

    owner_signs_in(page, console_url, "/console/distributor-applications")
    assert page.locator("nav.side a[href='/console/distributor-applications']").count() == 1
    row = the_row(page, first["id"])
    text = row.inner_text()
    assert "王小明" in text and "我有很多朋友" in text and "待审核" in text
    assert "T" not in row.locator("td").nth(2).inner_text()  # Beijing time, not RFC 3339
    assert fits(page)

    # approved with the template and the manager: a distributor in that group
    row.locator(".approve-form select[name=template_id]").select_option(template)
    row.locator(".approve-form select[name=manager_id]").select_option(uid(boss))
    row.locator(".approve-form button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/distributor-applications?status=PENDING")
    assert page.inner_text("#flash") == "已通过申请,申请人已成为分销员"
    assert page.locator(f"tr[data-application='{first['id']}']").count() == 0  # out of the queue
    d = wiring.distributor_repository().get(uid(joiner), consistent=True)
    assert (d.template_id, d.manager_id) == (template, uid(boss))
    assert mine(client, joiner)["status"] == "APPROVED"
    group, _ = wiring.distribution().list_group(uid(boss), 20, None)
    assert [g["id"] for g in group] == [uid(joiner)]

    # a rejection without a reason: refused in Chinese, nothing changed
    row = the_row(page, second["id"])
    row.locator(".reject-form input[name=reason]").fill("   ")  # past the browser's `required`, not the server's
    with page.expect_response(lambda r: r.url.endswith(f"/{second['id']}/reject")) as answer:
        row.locator(".reject-form button[type=submit]").click()
    assert answer.value.status == 400
    assert "拒绝原因" in page.inner_text("#error-message")
    assert wiring.recruitment().get(second["id"])["status"] == "PENDING"
    assert mine(client, refused)["status"] == "PENDING"

    # with a reason: the shopper reads it
    page.goto(f"{console_url}/console/distributor-applications")
    row = the_row(page, second["id"])
    row.locator(".reject-form input[name=reason]").fill("请先完成三笔订单")
    row.locator(".reject-form button[type=submit]").click()
    page.wait_for_url(f"{console_url}/console/distributor-applications?status=PENDING")
    assert page.dialogs and "李小红" in page.dialogs[-1]  # asked first
    answer = mine(client, refused)
    assert (answer["status"], answer["reason"]) == ("REJECTED", "请先完成三笔订单")

    # the decided ones, by status: what was decided, by whom
    page.select_option("#application-filters select[name=status]", "APPROVED")
    page.click("#application-filters button[type=submit]")
    page.wait_for_url(f"{console_url}/console/distributor-applications?status=APPROVED")
    text = page.locator(f"tr[data-application='{first['id']}']").inner_text()  # newest first
    assert "已通过" in text and name in text and "赵团长" in text and "店主" in text
    page.goto(f"{console_url}/console/distributor-applications?status=REJECTED")
    text = page.locator(f"tr[data-application='{second['id']}']").inner_text()
    assert "已拒绝" in text and "请先完成三笔订单" in text
    assert fits(page)


def test_an_approval_that_cannot_be_done_is_a_chinese_4xx_and_changes_nothing(browser_page, console_url, client,
                                                                     admin_headers, shop, rules_after):
    from functions import wiring

    page = browser_page
    wiring.shop_settings().update({"distributor_recruitment": "approval", "distributor_template_id": None})
    shopper = login(client)
    app = body(apply(client, shopper, name="孙无方案"))
    owner_signs_in(page, console_url, "/console/distributor-applications")
    row = the_row(page, app["id"])
    with page.expect_response(lambda r: r.url.endswith(f"/{app['id']}/approve")) as answer:
        row.locator(".approve-form button[type=submit]").click()  # no template anywhere
    assert answer.value.status == 422
    assert "没有可用的佣金方案" in page.inner_text("#error-message")
    assert wiring.recruitment().get(app["id"])["status"] == "PENDING"
    assert wiring.distributor_repository().get(uid(shopper), consistent=True) is None

    # a stale page: decided meanwhile (here, by the admin API), the second decision is refused
    page.goto(f"{console_url}/console/distributor-applications")
    row = the_row(page, app["id"])
    r = post(client, f"/admin/distributor-applications/{app['id']}/reject", {"reason": "名额已满"}, admin_headers)
    assert r.status_code == 200, r.body
    row.locator(".reject-form input[name=reason]").fill("重复处理")
    with page.expect_response(lambda r: r.url.endswith(f"/{app['id']}/reject")) as answer:
        row.locator(".reject-form button[type=submit]").click()
    assert answer.value.status == 409
    assert "已经处理过" in page.inner_text("#error-message")
    assert wiring.recruitment().get(app["id"])["reason"] == "名额已满"


def test_the_recruitment_settings_save_and_take_effect(browser_page, console_url, client, admin_headers, shop,
                                                       rules_after):
    page = browser_page
    name = "默认方案" + uuid.uuid4().hex[:6]
    template = template_named(client, admin_headers, name)
    owner_signs_in(page, console_url, "/console/settings")
    field = "#settings-form select[name=distributor_recruitment]"
    labels = page.locator(f"{field} option").all_inner_texts()
    assert labels == ["开放加入", "需要审核", "暂停招募"]

    page.select_option(field, "closed")
    page.click("#settings-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/settings")
    assert page.locator(field).input_value() == "closed"
    r = apply(client, login(client))
    assert r.status_code == 403 and body(r)["error"]["code"] == "RECRUITMENT_CLOSED"

    # open needs a default template: said next to the field, nothing saved
    page.select_option(field, "open")
    page.select_option("#settings-form select[name=distributor_template_id]", "")
    with page.expect_response(f"{console_url}/console/settings") as answer:
        page.click("#settings-form button[type=submit]")
    assert answer.value.status == 400
    assert "默认佣金方案" in page.inner_text("[data-field=distributor_template_id] .field-error")
    from functions import wiring

    assert wiring.shop_settings().get()["distributor_recruitment"] == "closed"

    page.select_option(field, "open")
    page.select_option("#settings-form select[name=distributor_template_id]", template)
    page.click("#settings-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/settings")
    assert page.locator("#settings-form select[name=distributor_template_id] option:checked").inner_text() == name
    shopper = login(client)
    r = apply(client, shopper)
    assert r.status_code == 201 and body(r)["status"] == "APPROVED"
    assert wiring.distributor_repository().get(uid(shopper), consistent=True).template_id == template
    assert fits(page)


def test_a_manager_made_with_a_template_shows_it_and_can_change_it(browser_page, console_url, client, admin_headers,
                                                                 shop):
    from tests.browser.conftest import pick_shopper, shopper_with_phone

    page = browser_page
    first, second = "团长方案" + uuid.uuid4().hex[:6], "新方案" + uuid.uuid4().hex[:6]
    template, other = template_named(client, admin_headers, first), template_named(client, admin_headers, second)
    boss, phone = shopper_with_phone(client, admin_headers, "钱团长")
    owner_signs_in(page, console_url, "/console/managers")
    pick_shopper(page, "#manager-form", "user_id", phone, uid(boss))
    page.fill("#manager-form input[name=name]", "钱团长")
    page.select_option("#manager-form select[name=template_id]", template)
    page.click("#manager-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/managers")
    row = page.locator(f"tr[data-manager='{uid(boss)}']")
    assert "钱团长" in row.inner_text() and first in row.locator(".template").inner_text()
    from functions import wiring

    assert wiring.distribution().get_manager(uid(boss))["template_id"] == template
    assert fits(page)

    row.locator("a").first.click()  # the manager's page: change the template there
    page.wait_for_url(f"{console_url}/console/managers/{uid(boss)}")
    assert first in page.inner_text("#manager-template")
    page.select_option("#manager-edit-form select[name=template_id]", other)
    page.click("#manager-edit-form button[type=submit]")
    page.wait_for_url(f"{console_url}/console/managers/{uid(boss)}")
    assert second in page.inner_text("#manager-template")
    manager = wiring.distribution().get_manager(uid(boss))
    assert (manager["template_id"], manager["name"]) == (other, "钱团长")

    # a new guide the manager adds gets the manager's template
    guide = login(client)
    r = post(client, "/manager/distributors", {"user_id": uid(guide)}, auth(boss))
    assert r.status_code == 201, r.body
    assert wiring.distributor_repository().get(uid(guide), consistent=True).template_id == other
