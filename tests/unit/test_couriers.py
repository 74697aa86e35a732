"""WeChat's couriers kept a day per container, the last list used when WeChat cannot be
asked, and a typed id checked against the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from layers.domain.miniprogram import WeChatUnavailable
from layers.services.couriers import Couriers

SF = {"delivery_id": "SF", "delivery_name": "顺丰速运"}
ZTO = {"delivery_id": "ZTO", "delivery_name": "中通快递"}


class Clock:
    def __init__(self):
        self.at = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)

    def now(self):
        return self.at


def test_the_list_is_asked_once_a_day_and_the_last_one_kept_when_wechat_is_down():
    clock, answers, calls = Clock(), [[SF], [SF, ZTO]], []

    def fetch():
        calls.append(clock.now())
        if not answers:
            raise WeChatUnavailable("HTTP 503")
        return answers.pop(0)

    couriers = Couriers(fetch=fetch, clock=clock)
    assert couriers.all() == [SF] and couriers.all() == [SF] and len(calls) == 1
    clock.at += timedelta(hours=23, minutes=59)
    assert couriers.names() == {"SF": "顺丰速运"} and len(calls) == 1
    clock.at += timedelta(minutes=1)
    assert couriers.names() == {"SF": "顺丰速运", "ZTO": "中通快递"} and len(calls) == 2
    clock.at += timedelta(days=1)
    assert couriers.all() == [SF, ZTO] and len(calls) == 3  # WeChat down: the last list
    assert couriers.checked("ZTO") == "ZTO" and couriers.checked("顺丰") is None


def test_with_no_list_ever_had_a_typed_id_is_let_through_for_wechat_to_judge():
    def down():
        raise WeChatUnavailable("timeout")

    couriers = Couriers(fetch=down, clock=Clock())
    assert couriers.all() == [] and couriers.checked("SF") == "SF"
