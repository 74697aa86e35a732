"""Console operators: scrypt hashes, sign-in and its rate limit, sessions and
their CSRF tokens, owner-only areas, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from layers.domain import errors
from layers.domain import operators as rules
from layers.services.operators import SESSION_TTL_S, OperatorService, Session
from tests.fakes.memory import MemoryStore
from tests.fakes.operators import MemoryOperatorRepository

OWNER = Session("owner", "owner")


class Clock:
    def __init__(self):
        self.at = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)

    def now(self):
        return self.at


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(clock):
    return OperatorService(operators=MemoryOperatorRepository(MemoryStore()), clock=clock,
                           secret="s" * 32, admin_key="the-admin-key")


def test_passwords_are_scrypt_hashes_that_verify_only_the_password():
    stored = rules.hash_password("correct horse 21")
    assert stored.startswith("scrypt$131072$8$1$") and "correct horse" not in stored
    assert rules.verify_password("correct horse 21", stored)
    assert not rules.verify_password("correct horse 22", stored)
    assert not rules.verify_password("x", "md5$nothing")
    assert rules.hash_password("same") != rules.hash_password("same")  # salted


def test_the_admin_key_signs_in_as_the_first_owner_and_creates_operators(service):
    assert service.sign_in("owner", "the-admin-key") == OWNER
    with pytest.raises(errors.Unauthorized):
        service.sign_in("owner", "wrong")
    made = service.create(OWNER, "alice", "correct horse 21", "operator")
    assert made["name"] == "alice" and made["role"] == "operator" and made["created_by"] == "owner"
    assert service.sign_in("alice", "correct horse 21") == Session("alice", "operator")
    with pytest.raises(errors.Unauthorized):
        service.sign_in("alice", "wrong password")
    with pytest.raises(errors.Unauthorized):
        service.sign_in("nobody", "correct horse 21")
    with pytest.raises(errors.InvalidState):
        service.create(OWNER, "alice", "another password", "owner")


def test_only_an_owner_creates_operators_and_bad_input_is_refused(service):
    with pytest.raises(errors.Forbidden):
        service.create(Session("bob", "operator"), "carol", "correct horse 21", "operator")
    for name, password, role in (("owner", "correct horse 21", "owner"), ("a b", "correct horse 21", "owner"),
                                 ("dave", "short", "owner"), ("dave", "correct horse 21", "root")):
        with pytest.raises(errors.InvalidRequest):
            service.create(OWNER, name, password, role)
    assert service.list(OWNER) == []


def test_failed_sign_ins_are_limited_per_name_and_address_and_window(service, clock):
    service.create(OWNER, "alice", "correct horse 21", "operator")
    for _ in range(2 * rules.SIGN_IN_LIMIT):  # successful sign-ins are forgiven
        service.sign_in("alice", "correct horse 21", "10.0.0.1")
    for _ in range(rules.SIGN_IN_LIMIT):
        with pytest.raises(errors.Unauthorized):
            service.sign_in("alice", "guess", "10.0.0.1")
    with pytest.raises(errors.RateLimited):
        service.sign_in("alice", "correct horse 21", "10.0.0.1")  # even the right password, from there
    assert service.sign_in("alice", "correct horse 21", "10.0.0.2").name == "alice"  # not elsewhere
    clock.at += timedelta(seconds=rules.SIGN_IN_WINDOW_S)
    assert service.sign_in("alice", "correct horse 21", "10.0.0.1").name == "alice"  # a short lockout


def test_a_crowd_of_addresses_locks_a_name_only_until_an_owner_unlocks_it(service, clock):
    service.create(OWNER, "alice", "correct horse 21", "operator")
    for n in range(rules.SIGN_IN_NAME_LIMIT):
        with pytest.raises(errors.Unauthorized):
            service.sign_in("alice", "guess", f"10.1.0.{n}")
    with pytest.raises(errors.RateLimited):
        service.sign_in("alice", "correct horse 21", "10.9.9.9")  # the name is locked for this window
    with pytest.raises(errors.Forbidden):
        service.unlock(Session("bob", "operator"), "alice")
    assert service.unlock(OWNER, "alice") > 0
    assert service.sign_in("alice", "correct horse 21", "10.9.9.9").name == "alice"


def test_one_address_cannot_spray_names(service):
    for n in range(rules.SIGN_IN_ADDRESS_LIMIT):
        with pytest.raises(errors.Unauthorized):
            service.sign_in(f"user{n}", "guess", "10.2.0.1")
    with pytest.raises(errors.RateLimited):
        service.sign_in("someone-else", "guess", "10.2.0.1")


def test_strangers_never_lock_out_the_admin_key_owner(service):
    for n in range(3 * rules.SIGN_IN_NAME_LIMIT):
        with pytest.raises((errors.Unauthorized, errors.RateLimited)):
            service.sign_in("owner", "guess", f"10.3.{n}.1")
    assert service.sign_in("owner", "the-admin-key", "192.168.1.5") == OWNER
    for _ in range(rules.SIGN_IN_LIMIT):  # a stranger at the owner's own address does lock that pair
        with pytest.raises(errors.Unauthorized):
            service.sign_in("owner", "guess", "192.168.1.5")
    with pytest.raises(errors.RateLimited):
        service.sign_in("owner", "the-admin-key", "192.168.1.5")
    service.unlock(OWNER, "owner")  # lifted through the admin API
    assert service.sign_in("owner", "the-admin-key", "192.168.1.5") == OWNER


def test_an_old_cost_hash_is_upgraded_at_sign_in_without_ending_sessions(service):
    service.create(OWNER, "alice", "correct horse 21", "operator")
    value = service.issue_session(service.sign_in("alice", "correct horse 21"))
    old = rules.hash_password("correct horse 21", n=2**14)
    assert rules.needs_rehash(old) and not rules.needs_rehash(rules.hash_password("x"))
    store = service.operators
    store.set_password_hash("alice", store.get("alice").password_hash, old)
    assert service.sign_in("alice", "correct horse 21").name == "alice"
    upgraded = store.get("alice").password_hash
    assert upgraded.startswith("scrypt$131072$8$1$") and rules.verify_password("correct horse 21", upgraded)
    assert service.session_of(value) is not None


def test_rotating_the_admin_key_ends_the_owners_sessions(service):
    value = service.issue_session(service.sign_in("owner", "the-admin-key"))
    assert service.session_of(value) == OWNER
    rotated = OperatorService(operators=service.operators, clock=service.clock, secret="s" * 32,
                              admin_key="the-new-admin-key")
    assert rotated.session_of(value) is None
    assert rotated.session_of(rotated.issue_session(rotated.sign_in("owner", "the-new-admin-key"))) == OWNER


def test_operator_names_of_any_script_sign_in_with_an_ascii_cookie(service):
    for name in ("张三", "Zoë.k", "مدير", "ﾃｽﾄ_1"):
        service.create(OWNER, name, "correct horse 21", "operator")
        value = service.issue_session(service.sign_in(name, "correct horse 21"))
        assert value.isascii() and ";" not in value and " " not in value
        assert service.session_of(value) == Session(name, "operator")


def test_a_session_is_signed_expires_and_carries_its_csrf_token(service, clock):
    service.create(OWNER, "alice", "correct horse 21", "operator")
    value = service.issue_session(service.sign_in("alice", "correct horse 21"))
    assert service.session_of(value) == Session("alice", "operator")
    name, sid, mac = value.rsplit(".", 2)
    assert service.session_of(f"{name}.{sid}x.{mac}") is None and service.session_of(f"Ym9i.{sid}.{mac}") is None
    assert service.session_of(f"%%%.{sid}.{mac}") is None and service.session_of(f"{name}.{sid}.{mac}.x") is None
    assert service.session_of("garbage") is None and service.session_of(None) is None
    token = service.csrf_token(value)
    service.check_csrf(value, token)
    for wrong in (None, "", "forged", service.csrf_token(value + "x")):
        with pytest.raises(errors.Forbidden):
            service.check_csrf(value, wrong)
    clock.at += timedelta(seconds=SESSION_TTL_S + 1)
    assert service.session_of(value) is None


def test_signing_out_ends_the_session_server_side(service):
    value = service.issue_session(service.sign_in("owner", "the-admin-key"))
    other = service.issue_session(service.sign_in("owner", "the-admin-key"))
    assert service.session_of(value) == OWNER
    service.sign_out(value)
    assert service.session_of(value) is None  # a copy of the cookie no longer works
    assert service.session_of(other) == OWNER  # another sign-in is its own session
    service.sign_out("garbage")  # nothing to end


def test_a_disabled_operator_cannot_sign_in_and_their_sessions_stop_at_once(service):
    service.create(OWNER, "alice", "correct horse 21", "operator")
    value = service.issue_session(service.sign_in("alice", "correct horse 21"))
    assert service.set_disabled(OWNER, "alice", True)["disabled"] is True
    assert service.session_of(value) is None
    with pytest.raises(errors.Forbidden):
        service.sign_in("alice", "correct horse 21")
    with pytest.raises(errors.Unauthorized):
        service.sign_in("alice", "wrong password")  # the password is checked first: no hint
    assert service.set_disabled(OWNER, "alice", False)["disabled"] is False
    assert service.session_of(value) is None  # enabling again does not revive old sessions
    assert service.session_of(service.issue_session(service.sign_in("alice", "correct horse 21"))) is not None
    with pytest.raises(errors.Forbidden):
        service.set_disabled(Session("bob", "operator"), "alice", True)
    with pytest.raises(errors.NotFound):
        service.set_disabled(OWNER, "nobody", True)
    with pytest.raises(errors.InvalidRequest):
        service.set_disabled(OWNER, "owner", True)
    service.create(OWNER, "carol", "correct horse 21", "owner")
    with pytest.raises(errors.InvalidRequest):
        service.set_disabled(Session("carol", "owner"), "carol", True)


def test_a_password_reset_ends_the_operators_sessions(service):
    service.create(OWNER, "alice", "correct horse 21", "operator")
    value = service.issue_session(service.sign_in("alice", "correct horse 21"))
    service.reset_password(OWNER, "alice", "battery staple 22")
    assert service.session_of(value) is None
    with pytest.raises(errors.Unauthorized):
        service.sign_in("alice", "correct horse 21")
    assert service.sign_in("alice", "battery staple 22").name == "alice"
    with pytest.raises(errors.InvalidRequest):
        service.reset_password(OWNER, "alice", "short")
    with pytest.raises(errors.Forbidden):
        service.reset_password(Session("alice", "operator"), "alice", "battery staple 23")


def test_owner_only_areas(service):
    for area in ("settings", "operators", "payouts"):
        rules.require("owner", area)
        with pytest.raises(errors.Forbidden):
            rules.require("operator", area)
    rules.require("operator", "orders")


def test_money_actions_are_audited_with_the_operator(service, clock):
    service.audit(Session("alice", "operator"), "refund.approve", "r1", 500, "order o1")
    clock.at += timedelta(minutes=1)
    service.audit(OWNER, "payout.mark_paid", "p1", 1200)
    log = service.audit_log()
    assert [(e["operator"], e["action"], e["target"], e["amount"]) for e in log] == [
        ("owner", "payout.mark_paid", "p1", 1200), ("alice", "refund.approve", "r1", 500)]


def test_stock_by_delta_with_a_reason():
    from layers.services.catalog import CatalogService
    from tests.fakes.catalog import MemoryCatalogRepository

    store = MemoryStore()
    catalog = MemoryCatalogRepository(store)
    service = CatalogService(catalog=catalog, new_tx=store.tx, clock=Clock())
    tx = store.tx()
    from layers.domain.catalog import Sku, StockChange

    catalog.stage_put_sku(tx, Sku(sku_id="s1", product_id="p1", title="茶", category=None, price=100, stock=5),
                          StockChange(set_to=5))
    tx.commit()
    assert service.adjust_stock("s1", -2, " 盘点少了 ") == {"id": "s1", "stock": 3, "delta": -2, "reason": "盘点少了"}
    with pytest.raises(errors.InvalidState):
        service.adjust_stock("s1", -4, "破损")
    for delta, reason in ((0, "x"), (5, ""), (10**7, "x")):
        with pytest.raises(errors.InvalidRequest):
            service.adjust_stock("s1", delta, reason)
    with pytest.raises(errors.NotFound):
        service.adjust_stock("nope", 1, "x")
    assert catalog.get_skus(["s1"])["s1"].stock == 3
