"""The console's lists of bargains and assistance campaigns:
BargainService.list_bargains and AssistService.list_campaigns on the in-memory repositories."""

from __future__ import annotations

from tests.unit.test_assist_service import World as AssistWorld
from tests.unit.test_bargain_service import World as BargainWorld


def test_bargains_newest_first_with_remaining_stock_and_paged():
    w = BargainWorld()
    first = w.succeeded()  # an instance of the first bargain, bought below
    w.buy(first["id"])
    w.clock.advance(1)
    second = w.bargain(stock=1, floor_price=10_000)
    page, cursor = w.service.list_bargains(1, None)
    assert [(b["id"], b["remaining"], b["floor_price"]) for b in page] == [(second["id"], 1, 10_000)] and cursor
    page, cursor = w.service.list_bargains(1, cursor)
    assert [(b["id"], b["remaining"], b["stock"]) for b in page] == [(first["bargain_id"], 1, 2)] and cursor is None


def test_campaigns_newest_first_and_paged():
    w = AssistWorld()
    first = w.campaign()
    w.clock.advance(1)
    second = w.campaign(name="集 5 个赞", helpers_needed=5, new_users_only=True)
    page, cursor = w.service.list_campaigns(10, None)
    assert [(c["id"], c["helpers_needed"], c["new_users_only"]) for c in page] == [
        (second["id"], 5, True), (first["id"], 3, False)] and cursor is None
    page, cursor = w.service.list_campaigns(1, None)
    assert [c["id"] for c in page] == [second["id"]]
    assert [c["id"] for c in w.service.list_campaigns(1, cursor)[0]] == [first["id"]]
