"""The operator repository (issue 21): in memory and on DynamoDB Local, alike."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from layers.domain.operators import AuditEntry, Operator, Role, StoredSession


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def operators(request):
    if request.param == "memory":
        from tests.fakes.memory import MemoryStore
        from tests.fakes.operators import MemoryOperatorRepository

        return MemoryOperatorRepository(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.operators import DynamoOperatorRepository

    return DynamoOperatorRepository()


def an_operator(name: str) -> Operator:
    return Operator(name=name, role=Role.OPERATOR, password_hash="scrypt$1$1$1$x$y",
                    created_at="2026-11-29T03:00:00Z", created_by="owner")


class TestOperatorRepository:
    def test_create_once_then_get_and_list(self, operators):
        name = "op" + uuid.uuid4().hex[:8]
        assert operators.get(name) is None
        assert operators.create(an_operator(name)) is True
        assert operators.create(Operator(**{**an_operator(name).__dict__, "role": Role.OWNER})) is False
        assert operators.get(name) == an_operator(name)
        assert an_operator(name) in operators.list()

    def test_failed_sign_ins_are_counted_per_name_and_window(self, operators):
        name = "op" + uuid.uuid4().hex[:8]
        assert operators.sign_in_failures(name, 7) == 0
        for _ in range(3):
            operators.record_sign_in_failure(name, 7, 2_000_000_000)
        assert operators.sign_in_failures(name, 7) == 3
        assert operators.sign_in_failures(name, 8) == 0 and operators.sign_in_failures("other" + name, 7) == 0

    def test_the_audit_log_of_a_day_newest_first(self, operators):
        target = "r-" + uuid.uuid4().hex[:8]
        first = AuditEntry(at="2026-01-05T01:00:00Z", operator="alice", action="refund.approve", target=target,
                           amount=500, detail="order o1")
        second = AuditEntry(at="2026-01-05T02:00:00Z", operator="owner", action="payout.mark_paid", target=target)
        operators.audit(first)
        operators.audit(second)
        mine = [e for e in operators.audit_log("2026-01-05", 100) if e.target == target]
        assert mine == [second, first]

    def test_a_line_begun_pending_is_finished_in_place_and_never_made_by_finishing(self, operators):
        target = "p-" + uuid.uuid4().hex[:8]
        begun = AuditEntry(at="2026-01-06T01:00:00Z", operator="owner", action="payout.mark_paid", target=target,
                           outcome="PENDING")
        entry_id = operators.audit(begun)
        assert [e for e in operators.audit_log("2026-01-06", 100) if e.target == target] == [begun]
        operators.finish_audit(entry_id, "DONE", 1200, "d1 -> PAID_MANUALLY")
        assert [e for e in operators.audit_log("2026-01-06", 100) if e.target == target] == [
            AuditEntry(at=begun.at, operator="owner", action="payout.mark_paid", target=target, amount=1200,
                       detail="d1 -> PAID_MANUALLY", outcome="DONE")]
        with pytest.raises(LookupError):
            operators.finish_audit("2026-01-06T01:00:00Z#999999", "DONE", None, None)
        assert len([e for e in operators.audit_log("2026-01-06", 100) if e.target == target]) == 1

    def test_an_update_raises_the_epoch_and_sessions_are_kept_until_deleted(self, operators):
        name = "op" + uuid.uuid4().hex[:8]
        assert operators.update(name, disabled=True) is False  # no such operator: nothing written
        assert operators.get(name) is None
        operators.create(an_operator(name))
        assert operators.update(name, disabled=True) is True
        assert operators.get(name) == dataclasses.replace(an_operator(name), disabled=True, epoch=1)
        assert operators.update(name, password_hash="scrypt$2$2$2$a$b") is True
        assert operators.get(name) == dataclasses.replace(an_operator(name), disabled=True, epoch=2,
                                                          password_hash="scrypt$2$2$2$a$b")
        assert an_operator(name).name in [o.name for o in operators.list()]
        session = StoredSession(name=name, sid="s" + uuid.uuid4().hex, role="operator", epoch=2,
                                expires_at=2_000_000_000)
        operators.create_session(session)
        assert operators.get_session(name, session.sid) == session
        assert operators.get_session("other" + name, session.sid) is None
        assert [o.name for o in operators.list()].count(name) == 1  # a session is not an operator
        operators.delete_session(name, session.sid)
        assert operators.get_session(name, session.sid) is None
