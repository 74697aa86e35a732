"""Console operators, their sign-in counters and the audit log, in the shop table.

- Operator: pk `OPERATOR#<name>`, sk `OPERATOR`; gsi1 `OPERATORS` / `<name>` (the list).
  `disabled`, and `epoch` raised by every disable/enable and password reset.
- Console session: pk `OPERATOR#<name>`, sk `SESSION#<sid>`: its role, the operator's
  epoch when issued, its expiry (and TTL). Deleted at sign-out.
- Sign-in attempts, counters with a TTL: per name pk `SIGNIN#<name>`, sk `W#<window>`;
  per (name, address) the same pk, sk `W#<window>#A#<address>` (so lifting a name's
  locks is one query); per address pk `SIGNIN_ADDR#<address>`, sk `W#<window>`.
- Audit entry: pk `AUDIT#<Asia/Shanghai day>`, sk `<at>#<random>`: kept forever.
"""

from __future__ import annotations

import secrets

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError

from layers.domain.analytics import day_of
from layers.domain.operators import AuditEntry, Operator, Role, SignInCount, StoredSession
from layers.storage.base import Listed, ShopModel
from layers.storage.errors import condition_failed

OPERATORS = "OPERATORS"


class OperatorItem(Listed):
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    disabled = BooleanAttribute(null=True)
    epoch = NumberAttribute(null=True)


class SessionItem(ShopModel):
    role = UnicodeAttribute()
    epoch = NumberAttribute(default=0)
    expires_at = NumberAttribute()


class SignInItem(ShopModel):
    attempts = NumberAttribute(default=0)


class AuditItem(ShopModel):
    at = UnicodeAttribute()
    operator = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    amount = NumberAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)  # PENDING, DONE, REFUSED <code>; none: written after the fact


def operator_key(name: str) -> tuple[str, str]:
    return f"OPERATOR#{name}", "OPERATOR"


def session_key(name: str, sid: str) -> tuple[str, str]:
    return f"OPERATOR#{name}", f"SESSION#{sid}"


def _operator(item: OperatorItem) -> Operator:
    return Operator(name=item.name, role=Role(item.role), password_hash=item.password_hash,
                    created_at=item.created_at, created_by=item.created_by, disabled=bool(item.disabled),
                    epoch=int(item.epoch or 0))


class DynamoOperatorRepository:
    """`layers.domain.operators.OperatorRepository` on the shop table."""

    def get(self, name: str) -> Operator | None:
        try:
            return _operator(OperatorItem.get(*operator_key(name), consistent_read=True))
        except OperatorItem.DoesNotExist:
            return None

    def create(self, operator: Operator) -> bool:
        item = OperatorItem(*operator_key(operator.name), gsi1pk=OPERATORS, gsi1sk=operator.name,
                            name=operator.name, role=str(operator.role), password_hash=operator.password_hash,
                            created_at=operator.created_at, created_by=operator.created_by)
        try:
            item.save(condition=OperatorItem.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def list(self) -> list[Operator]:
        return [_operator(i) for i in OperatorItem.gsi1.query(OPERATORS)]

    def update(self, name: str, *, disabled: bool | None = None, password_hash: str | None = None) -> bool:
        actions = [OperatorItem.epoch.add(1)]
        if disabled is not None:
            actions.append(OperatorItem.disabled.set(disabled))
        if password_hash is not None:
            actions.append(OperatorItem.password_hash.set(password_hash))
        try:
            OperatorItem(*operator_key(name)).update(actions=actions, condition=OperatorItem.pk.exists())
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def create_session(self, session: StoredSession) -> None:
        SessionItem(*session_key(session.name, session.sid), role=session.role, epoch=session.epoch,
                    expires_at=session.expires_at, ttl=session.expires_at).save()

    def get_session(self, name: str, sid: str) -> StoredSession | None:
        try:
            item = SessionItem.get(*session_key(name, sid), consistent_read=True)
        except SessionItem.DoesNotExist:
            return None
        return StoredSession(name=name, sid=sid, role=item.role, epoch=int(item.epoch or 0),
                             expires_at=int(item.expires_at))

    def delete_session(self, name: str, sid: str) -> None:
        SessionItem(*session_key(name, sid)).delete()

    @staticmethod
    def _count(pk: str, sk: str, expires_at: int) -> int:
        item = SignInItem(pk, sk)
        item.update(actions=[SignInItem.attempts.add(1), SignInItem.ttl.set(expires_at)])  # answers ALL_NEW
        return int(item.attempts)

    def count_sign_in(self, name: str, address: str, window: int, expires_at: int) -> SignInCount:
        return SignInCount(pair=self._count(f"SIGNIN#{name}", f"W#{window}#A#{address}", expires_at),
                           address=self._count(f"SIGNIN_ADDR#{address}", f"W#{window}", expires_at))

    def count_name_sign_in(self, name: str, window: int, expires_at: int) -> int:
        return self._count(f"SIGNIN#{name}", f"W#{window}", expires_at)

    def forgive_sign_in(self, name: str, address: str, window: int, name_counted: bool = True) -> None:
        keys = [(f"SIGNIN#{name}", f"W#{window}#A#{address}"), (f"SIGNIN_ADDR#{address}", f"W#{window}")]
        if name_counted:
            keys.append((f"SIGNIN#{name}", f"W#{window}"))
        for pk, sk in keys:
            try:
                SignInItem(pk, sk).update(actions=[SignInItem.attempts.add(-1)], condition=SignInItem.attempts > 0)
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise

    def clear_sign_in_locks(self, name: str) -> int:
        deleted = 0
        for item in SignInItem.query(f"SIGNIN#{name}", SignInItem.sk.startswith("W#"), consistent_read=True):
            window, _, address = item.sk.removeprefix("W#").partition("#A#")
            if address:
                SignInItem(f"SIGNIN_ADDR#{address}", f"W#{window}").delete()
            item.delete()
            deleted += 1
        return deleted

    def set_password_hash(self, name: str, old_hash: str, new_hash: str) -> bool:
        try:
            OperatorItem(*operator_key(name)).update(actions=[OperatorItem.password_hash.set(new_hash)],
                                                     condition=OperatorItem.password_hash == old_hash)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def audit(self, entry: AuditEntry) -> str:
        entry_id = f"{entry.at}#{secrets.token_hex(4)}"
        AuditItem(f"AUDIT#{day_of(entry.at)}", entry_id, at=entry.at, operator=entry.operator,
                  action=entry.action, target=entry.target, amount=entry.amount, detail=entry.detail,
                  outcome=entry.outcome).save()
        return entry_id

    def finish_audit(self, entry_id: str, outcome: str, amount: int | None, detail: str | None) -> None:
        at = entry_id.rsplit("#", 1)[0]
        item = AuditItem(f"AUDIT#{day_of(at)}", entry_id)
        actions = [AuditItem.outcome.set(outcome)]
        actions.append(AuditItem.amount.set(amount) if amount is not None else AuditItem.amount.remove())
        actions.append(AuditItem.detail.set(detail) if detail else AuditItem.detail.remove())
        try:
            item.update(actions=actions, condition=AuditItem.at.exists())  # the line begun, never a new one
        except UpdateError as exc:
            if condition_failed(exc):
                raise LookupError(f"no audit line {entry_id}") from exc
            raise

    def audit_log(self, day: str, limit: int = 100) -> list[AuditEntry]:
        return [AuditEntry(at=i.at, operator=i.operator, action=i.action, target=i.target,
                           amount=int(i.amount) if i.amount is not None else None, detail=i.detail,
                           outcome=i.outcome)
                for i in AuditItem.query(f"AUDIT#{day}", scan_index_forward=False, limit=limit)]
