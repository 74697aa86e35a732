"""An owner's balance adjustment on DynamoDB Local: many concurrent debits never
take the balance below zero, and the balance equals the sum of its entries."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.test_members import assert_books_equal_ledgers, book, ledger, topped_up

pytestmark = pytest.mark.integration


def test_forty_concurrent_debits_never_go_below_zero(client, admin_headers, shop):
    from functions import wiring
    from layers.domain.errors import DomainError
    from layers.storage.tx import TransactionConflicted

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=10000, bonus=1000)
    user = shopper["X-User-Id"]
    service = wiring.members()
    service.adjust(user, "balance", 500, "补偿", "owner", uuid.uuid4().hex)  # bonus 1500

    def debit(_):
        key = uuid.uuid4().hex
        while True:
            try:
                return service.adjust(user, "balance", -700, "扣回", "owner", key)
            except TransactionConflicted:
                continue  # the same key again: once at most
            except DomainError as exc:
                return exc.code

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(debit, range(40)))
    done = [r for r in results if isinstance(r, dict) and not r["duplicate"]]
    refused = [r for r in results if not isinstance(r, dict)]
    assert set(refused) <= {"INSUFFICIENT_BALANCE", "RATE_LIMITED"}, refused
    b = book(user)
    assert b.principal >= 0 and b.bonus >= 0
    assert b.principal + b.bonus == 11500 - 700 * len(done)
    assert len(done) >= 1
    if "RATE_LIMITED" not in refused:
        assert len(done) == 16  # 11500 // 700: every debit that fits, and no more
    assert_books_equal_ledgers(user)
    assert sum(e.principal + e.bonus for e in wiring.member_repository().entries_for(user, "balance", "admin#")) \
        == 500 - 700 * len(done)
    assert ledger(user)["bonus"] == b.bonus
    [credit] = [e for e in wiring.member_repository().entries_for(user, "balance", "admin#") if e.amount > 0]
    assert (credit.kind, credit.note, credit.bonus) == ("admin_adjust", "owner: 补偿", 500)


def test_a_debit_below_zero_is_refused_and_writes_nothing(client, admin_headers, shop):
    from functions import wiring
    from layers.domain.members import InsufficientBalance

    _, shopper = topped_up(client, admin_headers, shop["sandbox"], pay=1000)
    user = shopper["X-User-Id"]
    with pytest.raises(InsufficientBalance):
        wiring.members().adjust(user, "balance", -1001, "扣回", "owner", uuid.uuid4().hex)
    assert book(user).principal == 1000
    assert wiring.member_repository().entries_for(user, "balance", "admin#") == []
