"""A money action's audit line exists before the action runs (PENDING), and is
finished in place (DONE, or REFUSED with the code); an action that dies halfway leaves it
PENDING, never money moved without a line. On DynamoDB Local, through the console's own
`money_action`."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from layers.domain import errors


def _lines(target: str) -> list[dict]:
    from functions import wiring

    return [e for e in wiring.operators().audit_log() if e["target"] == target]


@pytest.fixture
def ctx(shop):
    from layers.services.operators import Session

    return SimpleNamespace(session=Session("alice", "owner"))


def test_the_line_is_written_before_the_action_and_finished_after_it(ctx):
    from functions.console._kit import money_action

    target = "r-" + uuid.uuid4().hex[:10]
    with money_action(ctx, "refund.approve", target) as line:
        assert [(e["operator"], e["outcome"]) for e in _lines(target)] == [("alice", "PENDING")]
        line.update(amount=500, detail="order o1 -> PROCESSING")
    assert [(e["outcome"], e["amount"], e["detail"]) for e in _lines(target)] == [
        ("DONE", 500, "order o1 -> PROCESSING")]


def test_a_refused_action_is_refused_on_its_line(ctx):
    from functions.console._kit import money_action

    target = "p-" + uuid.uuid4().hex[:10]
    with pytest.raises(errors.InvalidState), money_action(ctx, "payout.mark_paid", target, 1200):
        raise errors.InvalidState("a PAID payout cannot be marked paid")
    assert [(e["outcome"], e["amount"]) for e in _lines(target)] == [("REFUSED INVALID_STATE", 1200)]


def test_an_action_that_dies_halfway_stays_pending(ctx):
    from functions.console._kit import money_action

    target = "u-" + uuid.uuid4().hex[:10]
    with pytest.raises(RuntimeError), money_action(ctx, "balance.adjust", target, -700, "-700 分: 补偿"):
        raise RuntimeError("the container died")  # e.g. DynamoDB unreachable mid-action
    assert [(e["outcome"], e["amount"]) for e in _lines(target)] == [("PENDING", -700)]


def test_a_line_that_cannot_be_finished_stays_pending_and_the_action_still_answers(ctx, monkeypatch):
    from functions import wiring
    from functions.console._kit import money_action

    target = "p-" + uuid.uuid4().hex[:10]

    def unreachable(*args, **kwargs):
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(wiring.operators(), "end_audit", unreachable)
    with money_action(ctx, "payout.mark_paid", target, 1200) as line:
        line.update(detail="d1 -> PAID_MANUALLY")  # the action itself succeeded
    monkeypatch.undo()
    assert [(e["outcome"], e["amount"]) for e in _lines(target)] == [("PENDING", 1200)]
