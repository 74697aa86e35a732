"""The reminder repository: in memory and on DynamoDB Local, alike. A claim takes the
marker and a credit together, or neither."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from layers.domain.reminders import Claim, FlashReminderRequest


class _Already(Exception):
    pass


class _NoConsent(Exception):
    pass


@dataclass
class Env:
    repo: object
    new_tx: object


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def env(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.reminders import MemoryReminderRepository

        store = MemoryStore()
        return Env(MemoryReminderRepository(store), store.tx)
    request.getfixturevalue("dynamodb")
    from layers.storage.reminders import DynamoReminderRepository
    from layers.storage.tx import Tx

    return Env(DynamoReminderRepository(), Tx)


def _claim(env: Env, claim: Claim) -> str:
    tx = env.new_tx()
    env.repo.stage_claim(tx, claim, "2026-01-01T00:00:00Z", on_already_sent=_Already, on_no_consent=_NoConsent)
    try:
        tx.commit()
    except (_Already, _NoConsent) as exc:
        return type(exc).__name__
    return "claimed"


class TestReminderRepository:
    def test_credits_add_up_per_template(self, env):
        user = "u_" + uuid.uuid4().hex[:12]
        env.repo.add_credits(user, ["T1", "T2"], "2026-01-01T00:00:00Z")
        env.repo.add_credits(user, ["T1"], "2026-01-01T00:00:01Z")
        assert {(c.template_id, c.credits) for c in env.repo.consents(user)} == {("T1", 2), ("T2", 1)}

    def test_a_claim_needs_a_credit_and_happens_once(self, env):
        user = "u_" + uuid.uuid4().hex[:12]
        claim = Claim("order_unpaid", "o1", user, "T1")
        assert _claim(env, claim) == "_NoConsent"
        env.repo.add_credits(user, ["T1"], "2026-01-01T00:00:00Z")
        assert _claim(env, claim) == "claimed"
        assert [c.credits for c in env.repo.consents(user)] == [0]
        env.repo.add_credits(user, ["T1"], "2026-01-01T00:00:00Z")
        assert _claim(env, claim) == "_Already"
        assert [c.credits for c in env.repo.consents(user)] == [1]  # nothing taken
        env.repo.finish(claim, "SENT")
        env.repo.finish(claim, "FAILED")  # already finished: no change, no error

    def test_flash_requests_due_then_done(self, env):
        sale = "fs_" + uuid.uuid4().hex[:8]
        user = "u_" + uuid.uuid4().hex[:12]
        request = FlashReminderRequest(sale, user, "2001-01-01T00:10:00Z")
        env.repo.request_flash_reminder(request)
        assert request not in env.repo.flash_requests_starting("2001-01-01T00:09:59Z")
        assert request in env.repo.flash_requests_starting("2001-01-01T00:10:00Z")
        env.repo.flash_request_done(request)
        assert request not in env.repo.flash_requests_starting("2001-01-01T00:10:00Z")
