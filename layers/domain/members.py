"""Members: stored value, points, top-ups; pure rules on integer fen.

Two books per shopper, each a running balance and the entries that made it:

- `balance`: `principal` (money the shopper paid in) and `bonus` (what the plans gave on
  top). A movement changes either part; its entry carries both.
- `points`: `available` and `frozen` (earned by a paid order until it completes).

Every movement is a `Movement` keyed by its cause (`order#<id>#pay`,
`top_up#<id>#credit`, ...). The repository writes the book's new balance and the
movement's entry in ONE transaction: the entry conditioned on its cause being new (the
same cause is never written twice), the balance conditioned so that what a movement
takes cannot take a part below zero. So a balance always equals the sum of its entries.

How a balance payment splits: in proportion to the principal and bonus held at that
moment, the bonus part rounded up (the shopper keeps the refundable principal):
`bonus_part = ceil(amount * bonus / (principal + bonus))`, the rest principal. The split is kept on the order; a refund
returns the same parts, in proportion for a partial one (cumulatively, so the parts of
all refunds of an order add up to exactly what it took).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from layers.domain import errors

BALANCE = "balance"
POINTS = "points"


class InsufficientBalance(errors.InvalidState):
    code = "INSUFFICIENT_BALANCE"


class InsufficientPoints(errors.InvalidState):
    code = "INSUFFICIENT_POINTS"


@dataclass(frozen=True)
class Book:
    """One book of one shopper as stored: balance (principal, bonus) or points
    (available, frozen); `growth` rides on the points book."""

    user_id: str
    principal: int = 0
    bonus: int = 0
    available: int = 0
    frozen: int = 0
    growth: int = 0


@dataclass(frozen=True)
class Movement:
    """What changes a book, and why. `cause` is unique per book."""

    user_id: str
    book: str  # BALANCE | POINTS
    cause: str
    kind: str
    created_at: str
    principal: int = 0
    bonus: int = 0
    available: int = 0
    frozen: int = 0
    growth: int = 0
    order_id: str | None = None
    top_up_id: str | None = None
    # False: `available` may go below zero (points removed by a refund), never clamped.
    guard_available: bool = True
    note: str | None = None  # an operator's adjustment: who and why

    @property
    def amount(self) -> int:
        return self.principal + self.bonus if self.book == BALANCE else self.available + self.frozen


def entry_view(m: Movement) -> dict:
    view = {"id": m.cause, "amount": m.amount, "kind": m.kind, "created_at": m.created_at}
    if m.book == BALANCE:
        view.update(principal=m.principal, bonus=m.bonus)
    else:
        view.update(available=m.available, frozen=m.frozen)
    if m.order_id:
        view["order_id"] = m.order_id
    if m.top_up_id:
        view["top_up_id"] = m.top_up_id
    if m.note:
        view["note"] = m.note
    return view


class MemberRepository(Protocol):
    def get_book(self, user_id: str, book: str, consistent: bool = True) -> Book: ...

    def stage_move(self, tx, movement: Movement, on_short, on_duplicate) -> None:
        """Add the movement to its book and write its entry, in `tx`: `on_short` when a part
        it takes is not there, `on_duplicate` when its cause is already written."""

    def entries(self, user_id: str, book: str, limit: int, cursor: dict | None) -> tuple[list[Movement], dict | None]:
        ...

    def entries_for(self, user_id: str, book: str, cause_prefix: str) -> list[Movement]: ...

    def get_levels(self) -> list[dict]: ...

    def save_levels(self, levels: list[dict]) -> None: ...


# -- balance --------------------------------------------------------------------------------

def split_payment(book: Book, amount: int) -> tuple[int, int]:
    """(principal, bonus) taken by a payment of `amount`; InsufficientBalance if short."""
    total = book.principal + book.bonus
    if amount > total or amount < 0:
        raise InsufficientBalance(f"the balance is {total} fen; {amount} fen are needed")
    if total == 0:
        return 0, 0
    bonus = -(-amount * book.bonus // total)  # rounded up: the shopper keeps the principal
    return amount - bonus, bonus


def refund_parts(principal_paid: int, bonus_paid: int, refunded_before: int, amount: int) -> tuple[int, int]:
    """(principal, bonus) a refund of `amount` returns to the balance, of an order that took
    (principal_paid, bonus_paid) and had `refunded_before` refunded: cumulatively in
    proportion, the bonus rounded down (the shopper's favour: the remainder is principal)."""
    paid = principal_paid + bonus_paid
    if paid <= 0:
        return 0, 0
    after = min(paid, refunded_before + amount)
    bonus = bonus_paid * after // paid - bonus_paid * refunded_before // paid
    return amount - bonus, bonus


# -- points ---------------------------------------------------------------------------------

def points_earned(paid: int, points_per_yuan: int) -> int:
    """floor(paid / 100 * points_per_yuan), in integers."""
    return paid * points_per_yuan // 100


def points_discount(points: int, point_value_fen: int, max_ratio_bps: int, goods_after_discount: int) -> tuple[int, int]:
    """(points used, fen off): at most `max_ratio_bps` of the goods after discounts, rounded
    down; points beyond the cap are not taken."""
    if points <= 0 or point_value_fen <= 0:
        return 0, 0
    cap = goods_after_discount * max_ratio_bps // 10000
    used = min(points, cap // point_value_fen)
    return used, used * point_value_fen


def points_removed(earned: int, paid: int, refunded_before: int, amount: int) -> int:
    """Points a refund of `amount` removes, of an order that earned `earned` on `paid`
    (cumulative proportion, so all refunds together remove exactly what was earned)."""
    if paid <= 0:
        return 0
    after = min(paid, refunded_before + amount)
    return earned * after // paid - earned * refunded_before // paid


# -- an owner's adjustment ---------------------------------------------------------

ADJUST_KIND = "admin_adjust"
ADJUST_MAX = 100_000_00  # fen (¥100,000) or points, either way, per adjustment
REASON_MAX = 100


def adjustment(book: Book, which: str, amount: int, adjust_id: str, reason: str, by: str, now: str) -> Movement:
    """An owner's signed adjustment of a shopper's balance (fen) or points, decided from the
    book as read. A credit goes to the bonus (money the shop gives, never refunded to WeChat
    as a top-up's principal) or to the available points; a debit takes the bonus first, then
    the principal (the shopper keeps the refundable money), or available points, and never
    more than is there: InsufficientBalance / InsufficientPoints. `adjust_id` (the form's
    one-time id) makes the cause, so a form sent twice moves the book once."""
    if which not in (BALANCE, POINTS):
        raise errors.InvalidRequest("book: balance or points")
    if not isinstance(amount, int) or amount == 0 or abs(amount) > ADJUST_MAX:
        raise errors.InvalidRequest("调整金额须不为零,且不超过 ¥100000.00" if which == BALANCE
                                    else f"调整积分须为非零整数,且不超过 {ADJUST_MAX}")
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise errors.InvalidRequest(f"请填写调整原因(不超过 {REASON_MAX} 字)")
    if not adjust_id or len(adjust_id) > 64 or not all(c.isalnum() or c in "-_" for c in adjust_id):
        raise errors.InvalidRequest("表单已失效,请刷新页面重试")
    note = f"{by}: {reason}"
    cause = f"admin#{adjust_id}"
    if which == POINTS:
        if amount < 0 and book.available < -amount:
            raise InsufficientPoints(f"积分不足:可用积分 {book.available},不能减少 {-amount}")
        return Movement(book.user_id, POINTS, cause, ADJUST_KIND, now, available=amount, note=note)
    if amount > 0:
        return Movement(book.user_id, BALANCE, cause, ADJUST_KIND, now, bonus=amount, note=note)
    taken = -amount
    if taken > book.principal + book.bonus:
        raise InsufficientBalance(f"余额不足:当前余额 ¥{(book.principal + book.bonus) / 100:.2f},"
                                  f"不能减少 ¥{taken / 100:.2f}")
    bonus = min(book.bonus, taken)
    return Movement(book.user_id, BALANCE, cause, ADJUST_KIND, now, principal=-(taken - bonus), bonus=-bonus,
                    note=note)


# -- levels ---------------------------------------------------------------------------------

def level_for(levels: list[dict], growth: int) -> dict | None:
    """The highest level whose min_growth the growth reaches."""
    reached = [lv for lv in levels if int(lv["min_growth"]) <= growth]
    return max(reached, key=lambda lv: int(lv["min_growth"])) if reached else None


def member_discount(goods: int, discount_bps: int) -> int:
    """Off the goods, rounded up (the shopper's favour)."""
    return -(-goods * discount_bps // 10000) if discount_bps > 0 else 0


# -- top-ups --------------------------------------------------------------------------------

class TopUpStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    REFUNDING = "REFUNDING"  # its unspent principal is debited and in flight to WeChat
    REFUNDED = "REFUNDED"
    # WeChat could not return the refund (ABNORMAL: the payer's card is gone): the debit
    # stays; an operator sends it to a bank card (发起异常退款), under the same refund.
    REFUND_ABNORMAL = "REFUND_ABNORMAL"
    # Unpaid past its payment window: closed at WeChat first (it can no longer be paid
    # there), then here. A payment WeChat took just before the close still credits it once.
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class Plan:
    plan_id: str
    pay: int
    bonus: int
    created_at: str


@dataclass(frozen=True)
class TopUp:
    top_up_id: str
    user_id: str
    openid: str
    plan_id: str
    amount: int
    bonus: int
    status: str
    created_at: str
    request_hash: str | None = None
    prepay_id: str | None = None
    transaction_id: str | None = None
    paid_at: str | None = None
    refund_amount: int = 0  # principal debited for the refund (to WeChat)
    refund_bonus: int = 0  # bonus forfeited with it
    refund_error: str | None = None
    version: int = 0
    # The payment window (WeChat's time_expire, the same on every prepay call: a changed
    # one is OUT_TRADE_NO_USED). None on a top-up created before windows existed: it is
    # neither counted against the cap nor swept.
    expires_at: str | None = None
    prepay_at: str | None = None  # when WeChat gave the prepay id: it lives 2 hours
    closed_at: str | None = None


class TopUpRepository(Protocol):
    def get(self, top_up_id: str) -> TopUp | None: ...

    def stage_create(self, tx, top_up: TopUp, on_exists, on_open=None) -> None:
        """Create it; a PENDING_PAYMENT one with a window also takes one of its shopper's
        UNPAID_TOP_UPS_CAP unpaid places (LimitExceeded when none is left) and becomes the
        open top-up of its plan for its shopper (`on_open` when there is one already)."""

    def stage_change(self, tx, before: TopUp, after: TopUp, on_stale) -> None:
        """Conditioned on the version and status read; leaving PENDING_PAYMENT gives back
        its unpaid place and its plan's open slot, exactly once."""

    def open_for(self, user_id: str, plan_id: str) -> TopUp | None:
        """The shopper's open (unpaid, windowed) top-up of this plan, if any."""

    def unpaid_count(self, user_id: str) -> int: ...

    def set_prepay_id(self, top_up_id: str, prepay_id: str, prepay_at: str | None = None) -> bool:
        """Store it while the top-up is unpaid; False when it is not any more."""

    def due_unpaid(self, now: str, limit: int) -> list[TopUp]:
        """Unpaid top-ups whose window ended at or before `now`, oldest first."""

    def refunding(self, limit: int) -> list[TopUp]: ...

    def save_plan(self, plan: Plan) -> None: ...

    def plans(self) -> list[Plan]: ...

    def get_plan(self, plan_id: str) -> Plan | None: ...


def top_up_id_for(user_id: str, idempotency_key: str | None) -> str:
    """WeChat's out_trade_no of a top-up: `t` + 25 hex (orders start with `o`)."""
    if idempotency_key is None:
        return "t" + uuid.uuid4().hex[:25]
    return "t" + hashlib.sha256(f"{user_id}\x00top_ups\x00{idempotency_key}".encode()).hexdigest()[:25]


def is_top_up(out_trade_no: str) -> bool:
    return out_trade_no.startswith("t")


def top_up_refund_id(top_up_id: str, version: int) -> str:
    """The out_refund_no of a top-up's refund: fixed by the version the top-up took when
    the refund began (sent with every attempt; a new refund after a final refusal is a
    new number)."""
    return f"{top_up_id}R{version}"


UNPAID_TOP_UPS_CAP = 3  # unpaid top-ups one shopper may hold at once (any plans)
# WeChat Pay's prepay id is valid for 2 hours; one this old or older is asked for again.
PREPAY_TTL_S = 2 * 3600 - 10 * 60
# An open top-up with this much of its window left, or less, is not handed out again (the
# shopper could not finish paying): it is closed and a new one made.
REUSE_MARGIN_S = 60


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def top_up_window_end(created: datetime, payment_timeout_s: int) -> datetime:
    """The top-up's time_expire: created + the shop's order payment timeout, whole seconds."""
    return (created + timedelta(seconds=payment_timeout_s)).replace(microsecond=0)


def top_up_reusable(top_up: TopUp, now: datetime) -> bool:
    """An unpaid top-up a repeated request for its plan answers: still in its window."""
    return (top_up.status == TopUpStatus.PENDING_PAYMENT and top_up.expires_at is not None
            and (_at(top_up.expires_at) - now).total_seconds() > REUSE_MARGIN_S)


def top_up_prepay_fresh(top_up: TopUp, now: datetime) -> bool:
    """True while the stored prepay id can still start a payment (a margin kept)."""
    return bool(top_up.prepay_id) and (now - _at(top_up.prepay_at or top_up.created_at)
                                       ).total_seconds() < PREPAY_TTL_S


def top_up_closed(top_up: TopUp, now: str) -> TopUp:
    """PENDING_PAYMENT -> CLOSED, once WeChat closed it (or never had it)."""
    if top_up.status != TopUpStatus.PENDING_PAYMENT:
        raise errors.InvalidState(f"a {top_up.status} top-up cannot be closed")
    return replace(top_up, status=TopUpStatus.CLOSED, closed_at=now, version=top_up.version + 1)


def top_up_paid(top_up: TopUp, transaction_id: str | None, now: str) -> TopUp:
    """PENDING_PAYMENT -> PAID; also CLOSED -> PAID when WeChat took the payment just
    before our close reached it (nothing a top-up holds can be gone: it is credited)."""
    if not (top_up.status == TopUpStatus.PENDING_PAYMENT
            or (top_up.status == TopUpStatus.CLOSED and not top_up.transaction_id)):
        raise errors.InvalidState(f"a {top_up.status} top-up cannot be paid")
    return replace(top_up, status=TopUpStatus.PAID, transaction_id=transaction_id, paid_at=now,
                   version=top_up.version + 1)


def top_up_refund(top_up: TopUp, book: Book) -> TopUp:
    """PAID -> REFUNDING: at most the unspent principal (what of the top-up's amount is still
    in the principal), and the bonus in the same proportion of the top-up's bonus (rounded
    down, at most what is left)."""
    if top_up.status != TopUpStatus.PAID:
        raise errors.InvalidState(f"a {top_up.status} top-up cannot be refunded")
    principal = min(top_up.amount, book.principal)
    if principal < 1:
        raise errors.NotAcceptable("nothing of this top-up is left to refund")
    bonus = min(book.bonus, top_up.bonus * principal // top_up.amount)
    return replace(top_up, status=TopUpStatus.REFUNDING, refund_amount=principal, refund_bonus=bonus,
                   version=top_up.version + 1)


def top_up_refund_abnormal(top_up: TopUp) -> TopUp:
    """REFUNDING -> REFUND_ABNORMAL. The version stays: the refund's number derives from it
    and the same refund goes on (storage conditions on the status as well)."""
    if top_up.status != TopUpStatus.REFUNDING:
        raise errors.InvalidState(f"a {top_up.status} top-up has no refund in flight")
    return replace(top_up, status=TopUpStatus.REFUND_ABNORMAL)


def top_up_abnormal_applied(top_up: TopUp) -> TopUp:
    """REFUND_ABNORMAL -> REFUNDING once WeChat accepted the abnormal refund (to a bank
    card): in flight again under the same number, followed by the sweep."""
    if top_up.status != TopUpStatus.REFUND_ABNORMAL:
        raise errors.InvalidState(f"only a {TopUpStatus.REFUND_ABNORMAL} top-up refund can go to a bank card; "
                                  f"it is {top_up.status}")
    return replace(top_up, status=TopUpStatus.REFUNDING)


def top_up_refund_ended(top_up: TopUp, succeeded: bool, error: str | None = None) -> TopUp:
    if top_up.status not in (TopUpStatus.REFUNDING, TopUpStatus.REFUND_ABNORMAL):
        raise errors.InvalidState(f"a {top_up.status} top-up has no refund in flight")
    if succeeded:
        return replace(top_up, status=TopUpStatus.REFUNDED, version=top_up.version + 1)
    return replace(top_up, status=TopUpStatus.PAID, refund_amount=0, refund_bonus=0, refund_error=error,
                   version=top_up.version + 1)
