"""The operator repository: in memory and on DynamoDB Local, alike."""

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

    def test_sign_in_attempts_are_counted_per_pair_address_and_name_and_cleared(self, operators):
        name, addr = "op" + uuid.uuid4().hex[:8], "10.0." + uuid.uuid4().hex[:4]
        counts = [operators.count_sign_in(name, addr, 7, 2_000_000_000) for _ in range(3)]
        assert [(c.pair, c.address) for c in counts] == [(1, 1), (2, 2), (3, 3)]
        assert [operators.count_name_sign_in(name, 7, 2_000_000_000) for _ in range(2)] == [1, 2]
        other = operators.count_sign_in(name, addr + "9", 7, 2_000_000_000)
        assert (other.pair, other.address) == (1, 1)
        assert operators.count_sign_in(name, addr, 8, 2_000_000_000).pair == 1  # a new window
        operators.forgive_sign_in(name, addr, 7)  # a success takes back its pair, address and name counts
        again = operators.count_sign_in(name, addr, 7, 2_000_000_000)
        assert (again.pair, again.address) == (3, 3)
        assert operators.count_name_sign_in(name, 7, 2_000_000_000) == 2
        assert operators.clear_sign_in_locks(name) == 4  # the name and both pairs in 7, the pair in 8
        again = operators.count_sign_in(name, addr, 7, 2_000_000_000)
        assert (again.pair, again.address) == (1, 1)  # the address's own count of the window went too
        assert operators.count_name_sign_in(name, 7, 2_000_000_000) == 1

    def test_a_cost_upgrade_replaces_only_the_hash_it_read(self, operators):
        name = "op" + uuid.uuid4().hex[:8]
        operators.create(an_operator(name))
        assert operators.set_password_hash(name, "scrypt$1$1$1$x$y", "scrypt$2$1$1$x$z") is True
        assert operators.set_password_hash(name, "scrypt$1$1$1$x$y", "scrypt$3$1$1$x$w") is False
        assert operators.get(name).password_hash == "scrypt$2$1$1$x$z" and operators.get(name).epoch == 0
        assert operators.set_password_hash("nobody" + name, "a", "b") is False

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
