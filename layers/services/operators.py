"""The merchant console's operators: creating them, signing in (rate-limited),
the console session and its CSRF token, and the audit log of money actions.

A console session is kept server-side (layers/storage/operators.py) and named by a
signed cookie value `<base64url name>.<sid>.<mac>` (HMAC-SHA256 with TOKEN_SECRET under a
console-only label: a guessed value costs no read). Each request reads the session and
its operator (two keyed reads): signing out deletes the session, and disabling an
operator or resetting their password raises the operator's epoch, so every session
issued before stops working at once (a copied cookie included). The role is the
operator's current one. The CSRF token is an HMAC of the session value (tied to the
session: a page of another origin can neither read the cookie nor compute it).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field

from layers.clock import iso
from layers.domain import errors
from layers.domain import operators as rules
from layers.domain.analytics import day_of
from layers.domain.operators import PENDING, AuditEntry, OperatorRepository, Role, StoredSession

SESSION_TTL_S = 8 * 3600

# Whether this request wrote an audit line of its own: the console and the admin API
# write a generic line for every change that did not (functions/_audit.py), never two.
AUDITED: ContextVar[bool] = ContextVar("audited", default=False)


@dataclass(frozen=True)
class Session:
    name: str
    role: str
    # the operator's epoch when signed in, and the server-side session's id
    epoch: int = field(default=0, compare=False)
    sid: str | None = field(default=None, compare=False)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_store(self) -> bool:
        """A store's staff: sees only their own store's pages."""
        return self.role == Role.STORE


class OperatorService:
    def __init__(self, *, operators: OperatorRepository, clock, secret: str | None, admin_key: str | None):
        self.operators = operators
        self.clock = clock
        self.secret = (secret or "").encode()
        self.admin_key = admin_key

    # -- operators ------------------------------------------------------------------------

    def create(self, by: Session, name: str, password: str, role: str) -> dict:
        rules.require(by.role, "operators")
        operator = rules.new_operator(name, password, role, by.name, iso(self.clock.now()))
        if not self.operators.create(operator):
            raise errors.InvalidState("an operator has this name")
        return self.view(operator)

    def list(self, by: Session) -> list[dict]:
        rules.require(by.role, "operators")
        return [self._console_view(o) for o in self.operators.list()]

    @staticmethod
    def view(operator) -> dict:
        return {"name": operator.name, "role": str(operator.role), "created_at": operator.created_at,
                "created_by": operator.created_by}

    def _console_view(self, operator) -> dict:
        return {**self.view(operator), "disabled": operator.disabled}

    def set_disabled(self, by: Session, name: str, disabled: bool) -> dict:
        """The owner disables (or enables again) an operator: a disabled one cannot sign in
        and their open sessions stop working at once."""
        rules.require(by.role, "operators")
        if disabled and name == by.name:
            raise errors.InvalidRequest("you cannot disable yourself")
        return self._update(name, disabled=disabled)

    def reset_password(self, by: Session, name: str, password: str) -> dict:
        """The owner sets an operator's password; their open sessions end."""
        rules.require(by.role, "operators")
        return self._update(name, password_hash=rules.hash_password(rules.check_password(password)))

    def _update(self, name: str, **changes) -> dict:
        if name == rules.BUILTIN_OWNER:
            raise errors.InvalidRequest("the built-in owner is the ADMIN_API_KEY: rotate the key instead")
        if not self.operators.update(name, **changes):
            raise errors.NotFound("no such operator")
        return self._console_view(self.operators.get(name))

    # -- signing in -----------------------------------------------------------------------

    def sign_in(self, name: str, password: str, address: str | None = None) -> Session:
        """Counts the attempt first (per name and address, and per address; then, within
        those, per name), and checks the password only if this attempt's counts are within
        every limit: guesses sent at once are all counted and at most the limit checked."""
        name = (name or "").strip()[:64]
        address = (address or "unknown")[:64]
        seconds = int(self.clock.now().timestamp())
        window = seconds // rules.SIGN_IN_WINDOW_S
        expires = seconds + 2 * rules.SIGN_IN_WINDOW_S
        if not rules.within_address_limits(self.operators.count_sign_in(name, address, window, expires)):
            raise errors.RateLimited("too many failed sign-ins; wait a few minutes")
        name_counted = rules.counts_per_name(name)
        if name_counted and self.operators.count_name_sign_in(name, window, expires) > rules.SIGN_IN_NAME_LIMIT:
            raise errors.RateLimited("too many failed sign-ins; wait a few minutes")
        session = self._check_password(name, password or "")
        if session is None:
            raise errors.Unauthorized("wrong name or password")
        # A success is no guess: it takes back what it counted, so operators signing in and
        # out all day from one office are never limited by their own sign-ins.
        self.operators.forgive_sign_in(name, address, window, name_counted)
        return session

    def unlock(self, by: Session, name: str) -> int:
        """The owner lifts every sign-in lock of `name` (per name, and at each address it
        was tried from) before its window ends; answers how many counters were cleared."""
        rules.require(by.role, "operators")
        return self.operators.clear_sign_in_locks((name or "").strip()[:64])

    def _check_password(self, name: str, password: str) -> Session | None:
        if name == rules.BUILTIN_OWNER:
            if self.admin_key and hmac.compare_digest(password.encode(), self.admin_key.encode()):
                return Session(rules.BUILTIN_OWNER, Role.OWNER)
            return None
        operator = self.operators.get(name)
        if operator is None:
            rules.verify_password(password, _dummy_hash())  # the same time as a wrong password
            return None
        if not rules.verify_password(password, operator.password_hash):
            return None
        if operator.disabled:
            raise errors.Forbidden("this operator is disabled")
        if rules.needs_rehash(operator.password_hash):  # raised cost: re-hash the password we now know
            self.operators.set_password_hash(name, operator.password_hash, rules.hash_password(password))
        return Session(operator.name, str(operator.role), epoch=operator.epoch)

    def issue_session(self, session: Session) -> str:
        if not self.secret:
            raise RuntimeError("TOKEN_SECRET is not configured")
        sid = secrets.token_urlsafe(18)
        expires = int(self.clock.now().timestamp()) + SESSION_TTL_S
        self.operators.create_session(StoredSession(name=session.name, sid=sid, role=str(session.role),
                                                    epoch=session.epoch, expires_at=expires))
        payload = f"{_cookie_name(session.name)}.{sid}"
        return f"{payload}.{self._mac(self._session_label(session.name), payload)}"

    def _session_label(self, name: str) -> str:
        """The built-in owner's sessions are signed with the ADMIN_API_KEY too: rotating
        the key (the way to take the shop back) ends every session it opened."""
        if name != rules.BUILTIN_OWNER:
            return "session"
        return "session-owner-" + hashlib.sha256((self.admin_key or "").encode()).hexdigest()

    def _parse(self, value: str | None) -> tuple[str, str] | None:
        if not value or not self.secret:
            return None
        try:
            encoded, sid, mac = value.split(".")
            name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(self._session_label(name), f"{encoded}.{sid}").encode()):
            return None
        return name, sid

    def session_of(self, value: str | None) -> Session | None:
        """The session a cookie value stands for; None when absent, forged, expired, signed
        out, or its operator was disabled or had the password reset since."""
        parsed = self._parse(value)
        if parsed is None:
            return None
        name, sid = parsed
        stored = self.operators.get_session(name, sid)
        if stored is None or stored.expires_at < self.clock.now().timestamp():
            return None
        role = stored.role
        if name != rules.BUILTIN_OWNER:
            operator = self.operators.get(name)
            if operator is None or operator.disabled or operator.epoch != stored.epoch:
                return None
            role = str(operator.role)
        if role not in (Role.OWNER, Role.OPERATOR, Role.STORE):
            return None
        return Session(name, role, epoch=stored.epoch, sid=sid)

    def sign_out(self, value: str | None) -> None:
        """End the session server-side: the cookie value no longer signs anyone in."""
        parsed = self._parse(value)
        if parsed is not None:
            self.operators.delete_session(*parsed)

    def csrf_token(self, session_value: str) -> str:
        return self._mac("csrf", session_value)

    def check_csrf(self, session_value: str | None, token: str | None) -> None:
        if not session_value or not token or not hmac.compare_digest(token, self.csrf_token(session_value)):
            raise errors.Forbidden("the form's CSRF token is missing or wrong; reload the page")

    def _mac(self, label: str, payload: str) -> str:
        digest = hmac.new(self.secret, f"console-{label}:{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    # -- the audit log ----------------------------------------------------------------------

    def audit(self, by: Session, action: str, target: str, amount: int | None = None,
              detail: str | None = None) -> None:
        AUDITED.set(True)
        self.operators.audit(AuditEntry(at=iso(self.clock.now()), operator=by.name, action=action,
                                        target=target, amount=amount, detail=detail))

    def begin_audit(self, by: Session, action: str, target: str, amount: int | None = None,
                    detail: str | None = None) -> str:
        """A money action's line, written before the action (PENDING): no money moves
        without its line. Answers its id for `end_audit`."""
        AUDITED.set(True)
        return self.operators.audit(AuditEntry(at=iso(self.clock.now()), operator=by.name, action=action,
                                               target=target, amount=amount, detail=detail, outcome=PENDING))

    def end_audit(self, entry_id: str, outcome: str, amount: int | None = None, detail: str | None = None) -> None:
        self.operators.finish_audit(entry_id, outcome, amount, detail)

    def audit_log(self, day: str | None = None, limit: int = 100) -> list[dict]:
        day = day or day_of(iso(self.clock.now()))
        return [{"at": e.at, "operator": e.operator, "action": e.action, "target": e.target,
                 "amount": e.amount, "detail": e.detail, "outcome": e.outcome}
                for e in self.operators.audit_log(day, limit)]


def _cookie_name(name: str) -> str:
    """An operator's name in the cookie as base64url of its UTF-8: names of any script,
    and a cookie value of ASCII only (a raw non-ASCII `Set-Cookie` works through API
    Gateway but not through a local HTTP server, which writes headers in Latin-1)."""
    return base64.urlsafe_b64encode(name.encode()).rstrip(b"=").decode()


@functools.cache
def _dummy_hash() -> str:
    return rules.hash_password("not-a-password", salt=b"0123456789abcdef")
