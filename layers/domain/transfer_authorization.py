"""A distributor's confirmation-free receipt authorization (免确认收款授权), pure.

In WeChat's user-confirmation mode every transfer waits for the distributor to confirm
it in the mini-program. A distributor may grant the merchant an authorization, once,
while confirming a transfer made with `pre-transfer-with-authorization`; from then on
the merchant transfers with the authorization's id and nobody confirms anything, so
settlement pays without a claim. The user can revoke it (CLOSED): transfers then wait
for a claim again.

    (none) --first claimed transfer asks for it--> WAIT_USER_CONFIRM
    WAIT_USER_CONFIRM --the user confirms--> TAKING_EFFECT (authorization_id)
    any --revoked, or never confirmed--> CLOSED (the next claim asks again)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol


class AuthorizationState(StrEnum):
    WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"
    TAKING_EFFECT = "TAKING_EFFECT"
    CLOSED = "CLOSED"


WAIT_USER_CONFIRM = AuthorizationState.WAIT_USER_CONFIRM
TAKING_EFFECT = AuthorizationState.TAKING_EFFECT
CLOSED = AuthorizationState.CLOSED


@dataclass(frozen=True)
class TransferAuthorization:
    user_id: str
    out_authorization_no: str
    state: str
    updated_at: str
    authorization_id: str | None = None

    @property
    def effective(self) -> bool:
        return self.state == TAKING_EFFECT and bool(self.authorization_id)


class TransferAuthorizationRepository(Protocol):
    def get(self, user_id: str) -> TransferAuthorization | None: ...

    def save(self, authorization: TransferAuthorization) -> None:
        """Write it, unless the stored one is already TAKING_EFFECT and this is not (a late
        or stale answer never undoes a granted authorization; a CLOSED one from WeChat does)."""


def authorization_no_for(user_id: str, round_: int = 0) -> str:
    """WeChat's out_authorization_no: letters and digits, at most 32, one per user (a new
    round only after the last one was CLOSED)."""
    return "A" + hashlib.sha256(f"{user_id}\x00{round_}".encode()).hexdigest()[:29] + f"{round_:02d}"[-2:]


def asked(user_id: str, now: str, previous: TransferAuthorization | None = None) -> TransferAuthorization:
    round_ = 0
    if previous is not None and previous.state == CLOSED:
        round_ = int(previous.out_authorization_no[-2:]) + 1
    elif previous is not None:
        return previous
    return TransferAuthorization(user_id=user_id, out_authorization_no=authorization_no_for(user_id, round_),
                                 state=WAIT_USER_CONFIRM, updated_at=now)


def from_wechat(a: TransferAuthorization, answer: dict, now: str) -> TransferAuthorization:
    """What WeChat says of it (a query, or the authorization notification)."""
    state = answer.get("state")
    if state not in (WAIT_USER_CONFIRM, TAKING_EFFECT, CLOSED):
        return a
    return replace(a, state=state, authorization_id=answer.get("authorization_id") or a.authorization_id,
                   updated_at=now)


def display_name(shop_label: str, distributor_id: str) -> str:
    """The authorization's `user_display_name`: WeChat shows it on the authorization page
    so the user sees WHICH of their accounts with the merchant the confirmation-free
    receipt covers. The shop's label alone is the same for every distributor; the tail of
    the distributor's own id tells their account apart (at most 32 characters)."""
    tail = distributor_id[-6:]
    return f"{shop_label[:32 - len(tail) - 1]}·{tail}"
