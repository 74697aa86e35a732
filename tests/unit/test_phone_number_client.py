"""Our client's reading of phonenumber.getPhoneNumber's answer (the sandbox speaks the
protocol in tests/sandbox and tests/integration/test_customers.py): 40029 is the shopper's
code, refused; an answer without a number or for another mini-program is not an answer."""

from __future__ import annotations

import pytest

from layers.domain.miniprogram import InvalidCode, WeChatApiError, WeChatUnavailable
from layers.wechat.miniprogram import MiniProgram


def client(answer):
    mp = MiniProgram("wxappid", "secret", api_base="http://127.0.0.1:9")

    def call(path, body, binary=False):
        assert path == "/wxa/business/getuserphonenumber" and body == {"code": "c"}
        if isinstance(answer, Exception):
            raise answer
        return answer

    mp._call = call
    return mp


def info(**changes):
    phone = {"phoneNumber": "13800000000", "purePhoneNumber": "13800000000", "countryCode": "86",
             "watermark": {"timestamp": 1, "appid": "wxappid"}}
    return {"errcode": 0, "errmsg": "ok", "phone_info": {**phone, **changes}}


def test_the_pure_number_and_its_country_code():
    assert client(info()).get_phone_number("c") == {"phone": "13800000000", "country_code": "86"}
    assert client(info(phoneNumber="+1-2025550123", purePhoneNumber="2025550123", countryCode="1")
                  ).get_phone_number("c") == {"phone": "2025550123", "country_code": "1"}


def test_a_refused_code_is_invalid_and_other_errors_stay_errors():
    with pytest.raises(InvalidCode):
        client(WeChatApiError(40029, "invalid code")).get_phone_number("c")
    with pytest.raises(WeChatApiError):
        client(WeChatApiError(45011, "api minute-quota reach limit")).get_phone_number("c")


@pytest.mark.parametrize("answer", [{"errcode": 0}, info(purePhoneNumber=""), info(purePhoneNumber="138x"),
                                    info(watermark={"timestamp": 1, "appid": "wxother"})])
def test_no_number_or_another_apps_number_is_not_an_answer(answer):
    with pytest.raises(WeChatUnavailable):
        client(answer).get_phone_number("c")
