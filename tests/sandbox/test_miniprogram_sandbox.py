"""The mini-program half of the sandbox on its own, over HTTP: its rules are WeChat's
documentation (each test names the page), not our application's."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import requests

from tests.sandbox.test_pay_sandbox import paid_order

BJ = timezone(timedelta(hours=8))


def token(box) -> str:
    r = requests.post(box.base_url + "/cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": box.keys.appid, "secret": box.keys.app_secret}, timeout=5)
    return r.json()["access_token"]


def mp_call(box, path: str, body: dict) -> dict:
    return requests.post(box.base_url + path, params={"access_token": token(box)}, json=body, timeout=5).json()


def upload_body(box, no: str, tracking_no: str = "YT100", at: datetime | None = None) -> dict:
    at = at or datetime.now(BJ)
    return {"order_key": {"order_number_type": 1, "mchid": box.keys.mchid, "out_trade_no": no},
            "logistics_type": 1, "delivery_mode": 1, "upload_time": at.isoformat(timespec="milliseconds"),
            "shipping_list": [{"item_desc": "茶*1", "tracking_no": tracking_no, "express_company": "YTO"}],
            "payer": {"openid": box.orders[no]["payer"]["openid"]}}


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    return predicate()


# -- 小程序发货信息管理服务, 三、相关消息推送: trade_manage_order_settlement ---------------------------

def test_an_accepted_upload_pushes_the_estimated_settlement_and_settling_pushes_again(pay):
    box = pay.box
    no = paid_order(pay)
    assert mp_call(box, "/wxa/sec/order/upload_shipping_info", upload_body(box, no))["errcode"] == 0
    first = wait_for(lambda: box.mp.pushes_for(no))
    assert len(first) == 1
    shipping_push = first[0]
    assert shipping_push["Event"] == "trade_manage_order_settlement"
    assert shipping_push["merchant_trade_no"] == no and shipping_push["transaction_id"]
    assert shipping_push["estimated_settlement_time"] > shipping_push["shipped_time"]
    assert "confirm_receive_time" not in shipping_push and "settlement_time" not in shipping_push

    box.mp.settle(no)
    settled = box.mp.pushes_for(no)[-1]
    assert settled["settlement_time"] and settled["confirm_receive_time"]
    assert len(box.mp.pushes_for(no)) == 2
    # Settled: WeChat takes no more shipping information for it.
    later = datetime.now(BJ) + timedelta(seconds=1)
    refused = mp_call(box, "/wxa/sec/order/upload_shipping_info", upload_body(box, no, "YT101", later))
    assert refused["errcode"] == 10060004


def test_a_refused_upload_pushes_nothing(pay):
    box = pay.box
    no = paid_order(pay)
    box.mp.not_booked_yet(no)
    assert mp_call(box, "/wxa/sec/order/upload_shipping_info", upload_body(box, no))["errcode"] == 10060001
    time.sleep(0.2)
    assert box.mp.pushes_for(no) == []


# -- code2Session / getStableAccessToken: a wrong app secret is 40125 whatever the code ------------

def test_a_wrong_app_secret_is_40125_for_login_and_for_the_token(box):
    login = requests.get(box.base_url + "/sns/jscode2session", params={
        "appid": box.keys.appid, "secret": "wrong", "js_code": "a-good-code", "grant_type": "authorization_code"},
        timeout=5).json()
    assert login["errcode"] == 40125
    stable = requests.post(box.base_url + "/cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": box.keys.appid, "secret": "wrong"}, timeout=5).json()
    assert stable["errcode"] == 40125 and "access_token" not in stable


# -- upload_shipping_info: one change per payment, counting only what WeChat accepted ------------

def test_only_accepted_uploads_count_towards_the_one_change(pay):
    box = pay.box
    no = paid_order(pay)
    start = datetime.now(BJ)
    box.mp.not_booked_yet(no)
    assert mp_call(box, "/wxa/sec/order/upload_shipping_info", upload_body(box, no, "A", start))["errcode"] == 10060001
    for n, tracking in enumerate(("B", "C"), start=1):
        at = start + timedelta(seconds=n)
        assert mp_call(box, "/wxa/sec/order/upload_shipping_info", upload_body(box, no, tracking, at))["errcode"] == 0
    third = mp_call(box, "/wxa/sec/order/upload_shipping_info", upload_body(box, no, "D", start + timedelta(seconds=3)))
    assert third["errcode"] == 10060003
    assert [u["shipping_list"][0]["tracking_no"] for u in box.mp.accepted_uploads(no)] == ["B", "C"]


def test_a_pickup_upload_is_one_parcel_with_its_description_and_no_tracking(pay):
    box = pay.box
    no = paid_order(pay)
    body = upload_body(box, no)
    body["logistics_type"] = 4  # 用户自提
    body["shipping_list"] = []
    assert mp_call(box, "/wxa/sec/order/upload_shipping_info", body)["errcode"] == 268485228
    body["shipping_list"] = [{}]
    assert mp_call(box, "/wxa/sec/order/upload_shipping_info", body)["errcode"] == 10060008  # item_desc
    body["shipping_list"] = [{"item_desc": "茶*1"}]
    assert mp_call(box, "/wxa/sec/order/upload_shipping_info", body)["errcode"] == 0
    assert [u["logistics_type"] for u in box.mp.accepted_uploads(no)] == [4]


# -- is_trade_managed, and trade_manage_remind_access_api when WeChat enrols the merchant ----------

def test_is_trade_managed_answers_errcode_0_and_enrolment_reminds_to_use_the_api(box):
    box.mp.trade_managed = False
    try:
        answer = mp_call(box, "/wxa/sec/order/is_trade_managed", {"appid": box.keys.appid})
        assert answer == {"errcode": 0, "errmsg": "ok", "is_trade_managed": False}
        event = box.mp.enrol()
        assert event["Event"] == "trade_manage_remind_access_api" and event["msg"]
        answer = mp_call(box, "/wxa/sec/order/is_trade_managed", {"appid": box.keys.appid})
        assert answer["errcode"] == 0 and answer["is_trade_managed"] is True
        assert mp_call(box, "/wxa/sec/order/is_trade_managed", {"appid": "wx-other"})["errcode"] == 40013
    finally:
        box.mp.trade_managed = True


# -- getDailyVisitTrend (数据分析): the access token is checked; figures not made yet ---------------

def test_datacube_refuses_a_stale_token_and_answers_an_empty_list_before_the_figures(box):
    from sandbox.datacube import DAILY_VISIT_TREND, set_visits, visits_pending

    day = (datetime.now(BJ) - timedelta(days=1)).strftime("%Y-%m-%d")
    ref = day.replace("-", "")
    set_visits(box, day, 77)
    current = token(box)
    ask = lambda t: requests.post(box.base_url + DAILY_VISIT_TREND, params={"access_token": t},  # noqa: E731
                                  json={"begin_date": ref, "end_date": ref}, timeout=5).json()
    assert ask("not-the-token")["errcode"] == 40001
    assert ask(current)["list"][0]["visit_uv"] == 77
    visits_pending(box, day)
    try:
        assert ask(current) == {"list": []}
    finally:
        visits_pending(box, day, pending=False)


def _stable(box, force=False) -> str:
    r = requests.post(box.base_url + "/cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": box.keys.appid, "secret": box.keys.app_secret,
        "force_refresh": force}, timeout=5)
    return r.json()["access_token"]


def _plain(box) -> str:
    r = requests.get(box.base_url + "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": box.keys.appid, "secret": box.keys.app_secret}, timeout=5)
    return r.json()["access_token"]


def _works(box, token: str) -> bool:
    r = requests.post(box.base_url + "/wxa/sec/order/is_trade_managed", params={"access_token": token},
                      json={"appid": box.keys.appid}, timeout=5)
    return r.json()["errcode"] == 0


def test_stable_token_and_get_access_token_are_separate(box):
    # 获取稳定版接口调用凭据: "与 getAccessToken 获取的调用凭证完全隔离，互不影响"
    stable = _stable(box)
    plain = _plain(box)
    assert plain != stable
    second_plain = _plain(box)
    assert _works(box, stable) and _works(box, second_plain)
    assert _works(box, plain)  # the previous getAccessToken token lives on for 5 minutes
    assert _stable(box) == stable  # normal mode: the same stable token while it is valid
    box.mp.expire_token()  # the stable token revoked: getAccessToken's is untouched
    assert not _works(box, stable) and _works(box, second_plain)


# -- 发送订阅消息 (sendMessage): 47003 "模板参数不准确，可能为空或者不满足规则" ---------------------------

def test_a_send_must_carry_exactly_the_keywords_of_the_registered_template(pay):
    box = pay.box
    register = box.base_url + "/sandbox/mp/templates/T_UNPAID_THEIRS"
    r = requests.post(register, json={"keywords": ["character_string2", "amount1", "time5"]}, timeout=5)
    assert r.status_code == 200 and r.json()["keywords"] == ["character_string2", "amount1", "time5"]
    for bad in (["title1"], ["thing1\n"], [], "thing1"):
        assert requests.post(box.base_url + "/sandbox/mp/templates/T_BAD", json={"keywords": bad},
                             timeout=5).status_code == 400, bad

    def send(template_id: str, data: dict) -> dict:
        return mp_call(box, "/cgi-bin/message/subscribe/send", {"touser": "o-layout", "template_id": template_id,
                                                               "data": data})

    sent_before = len(box.messages)
    ours = {"character_string1": {"value": "o123"}, "amount2": {"value": "1.00元"},
            "time3": {"value": "2026年1月1日 08:00"}}
    missing = send("T_UNPAID_THEIRS", ours)
    assert missing["errcode"] == 47003 and "data.character_string2.value is empty" in missing["errmsg"]
    theirs = {"character_string2": {"value": "o123"}, "amount1": {"value": "1.00元"},
              "time5": {"value": "2026年1月1日 08:00"}}
    extra = send("T_UNPAID_THEIRS", theirs | {"thing9": {"value": "多余"}})
    assert extra["errcode"] == 47003 and "thing9" in extra["errmsg"]
    assert len(box.messages) == sent_before  # nothing refused reached anyone
    assert send("T_UNPAID_THEIRS", theirs)["errcode"] == 0
    assert box.messages[-1]["data"] == theirs
    # Each value still fits its kind: a thing of 21 characters is refused, 20 taken.
    long_thing = {"thing1": {"value": "一" * 21}, "time2": {"value": "15:01"}}
    requests.post(box.base_url + "/sandbox/mp/templates/T_COUPON_THEIRS", json={"keywords": ["thing1", "time2"]},
                  timeout=5)
    assert send("T_COUPON_THEIRS", long_thing)["errcode"] == 47003
    assert send("T_COUPON_THEIRS", {**long_thing, "thing1": {"value": "一" * 20}})["errcode"] == 0
    # A template never registered takes whatever keywords a send names, each checked by kind.
    assert send("T_NEVER_REGISTERED", ours)["errcode"] == 0
    assert send("T_NEVER_REGISTERED", {"title1": {"value": "x"}})["errcode"] == 47003


# -- 手机号快速验证 phonenumber.getPhoneNumber ----------------------------------------------------
# https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html

def test_a_phone_code_answers_phone_info_once_and_an_unknown_code_is_40029(pay):
    box = pay.box
    code = box.mp.phone_code("13912345678")
    answer = mp_call(box, "/wxa/business/getuserphonenumber", {"code": code})
    assert answer["errcode"] == 0
    info = answer["phone_info"]
    assert (info["phoneNumber"], info["purePhoneNumber"], info["countryCode"]) == ("13912345678", "13912345678", "86")
    assert info["watermark"]["appid"] == box.keys.appid and isinstance(info["watermark"]["timestamp"], int)
    assert mp_call(box, "/wxa/business/getuserphonenumber", {"code": code})["errcode"] == 40029  # used once
    assert mp_call(box, "/wxa/business/getuserphonenumber", {"code": "never-issued"})["errcode"] == 40029


def test_a_phone_code_older_than_five_minutes_is_40029(pay):
    box = pay.box
    code = box.mp.phone_code("13912345678", issued_at=time.time() - 301)
    assert mp_call(box, "/wxa/business/getuserphonenumber", {"code": code})["errcode"] == 40029


def test_a_number_outside_mainland_china_carries_its_country_code(pay):
    box = pay.box
    code = box.mp.phone_code("2025550123", country_code="1")
    info = mp_call(box, "/wxa/business/getuserphonenumber", {"code": code})["phone_info"]
    assert (info["phoneNumber"], info["purePhoneNumber"], info["countryCode"]) == ("+1-2025550123", "2025550123", "1")


def test_the_phone_call_needs_the_access_token(pay):
    box = pay.box
    code = box.mp.phone_code("13912345678")
    r = requests.post(box.base_url + "/wxa/business/getuserphonenumber", params={"access_token": "nope"},
                      json={"code": code}, timeout=5).json()
    assert r["errcode"] == 40001
