"""The exact-time expiry timer of bargain and assistance instances: one delayed message
on the events queue, re-sent in 15-minute steps until the instance's time has come."""

from __future__ import annotations

from datetime import timedelta

from layers.clock import iso
from layers.services.campaign_timer import ExpiryTimer
from tests.fakes.memory import FakeClock


def test_messages_wait_at_most_fifteen_minutes_and_come_back_until_due():
    clock, sent = FakeClock(), []
    timer = ExpiryTimer(send=lambda url, body, delay_s: sent.append((url, body, delay_s)), queue_url="q",
                        clock=clock, event_type="bargain_instance.expiry_due")
    expires_at = iso(clock.now() + timedelta(hours=1))
    timer.schedule("bi1", expires_at)
    [(url, message, delay)] = sent
    assert url == "q" and delay == 901
    assert message == {"event_id": "bargain_instance.expiry_due:bi1", "type": "bargain_instance.expiry_due",
                       "payload": {"instance_id": "bi1", "expires_at": expires_at}}
    clock.advance(3000)
    assert timer.due(message["payload"]) is False  # 10 minutes early: sent again for the rest
    assert sent[-1][2] == 601
    clock.advance(600)
    assert timer.due(message["payload"]) is True and len(sent) == 2


def test_a_failed_send_is_left_to_the_sweep():
    def down(*args, **kwargs):
        raise RuntimeError("SQS unreachable")

    clock = FakeClock()
    timer = ExpiryTimer(send=down, queue_url="q", clock=clock, event_type="assist_instance.expiry_due")
    timer.schedule("ai1", iso(clock.now() + timedelta(minutes=5)))  # does not raise
