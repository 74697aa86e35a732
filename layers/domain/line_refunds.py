"""Refunds that name order lines: which units, and what they paid. Pure, integer fen.

A line's `paid` (`paid_shares.line_paid`: stored, or derived for an order stored before
lines carried it) is spread over its Q units by the cumulative rule
`F(n) = floor(paid * n / Q)`: the first n units refunded are worth F(n). The order keeps,
per line, the units refunded or being refunded and the fen they took
(`Order.line_refunds`: `{"<line index>": {"units", "amount"}}`), so k more units of a
line with r units and `a` fen taken are worth `F(r + k) - a`. Without a failed refund in
between, `a == F(r)` and this is `F(r + k) - F(r)`: refunding every unit, in any steps,
takes exactly `F(Q) == paid`. A refund that fails or is rejected gives its units and its
fen back, so `a` may then exceed `F(r)`; the worth is then floored at 0 and the last
unit still takes exactly `paid - a`: the line never gives more than it paid, and all
of it once every unit is refunded.

A request names SKUs, not lines: a SKU's units are taken from its lines in order, paid
lines before gift lines (a free gift and a bought unit of the same SKU). A gift line
(`"gift": true`, paid 0) is never refunded on its own: its units may go back only
together with a line that paid.
"""

from __future__ import annotations

from layers.domain import errors, paid_shares


def worth(paid: int, quantity: int, units_before: int, amount_before: int, units: int) -> int:
    """Fen that `units` more units of a line are worth (see the module's docstring)."""
    if quantity <= 0 or paid <= 0:
        return 0
    return max(0, paid * min(units_before + units, quantity) // quantity - amount_before)


def taken(line_refunds: dict | None, index: int) -> tuple[int, int]:
    """(units, fen) of line `index` refunded or being refunded."""
    held = (line_refunds or {}).get(str(index)) or {}
    return int(held.get("units") or 0), int(held.get("amount") or 0)


def units_left(items, line_refunds: dict | None) -> list[int]:
    """Units of each line not refunded nor being refunded."""
    return [int(item["quantity"]) - taken(line_refunds, i)[0] for i, item in enumerate(items)]


def _lines_of(items, sku_id: str) -> list[int]:
    paid = [i for i, item in enumerate(items) if item["sku_id"] == sku_id and not item.get("gift")]
    gifts = [i for i, item in enumerate(items) if item["sku_id"] == sku_id and item.get("gift")]
    return paid + gifts


def pick(items, line_refunds: dict | None, wanted) -> list[tuple[int, int]]:
    """`wanted` ([{"sku_id", "quantity"}]) as (line index, units), in line order. Refuses
    (422) a SKU the order does not have, more units than its lines have left, and a
    request of gift units alone."""
    asked: dict[str, int] = {}
    for w in wanted:
        asked[w["sku_id"]] = asked.get(w["sku_id"], 0) + int(w["quantity"])
    left = units_left(items, line_refunds)
    picked: dict[int, int] = {}
    for sku_id, quantity in asked.items():
        lines = _lines_of(items, sku_id)
        if not lines:
            raise errors.NotAcceptable(f"the order has no line of SKU {sku_id}")
        available = sum(left[i] for i in lines)
        if quantity > available:
            raise errors.NotAcceptable(
                f"SKU {sku_id}: {quantity} units asked, only {available} left to refund")
        for i in lines:
            units = min(quantity, left[i])
            if units > 0:
                picked[i] = units
                quantity -= units
    if all(items[i].get("gift") for i in picked):
        raise errors.NotAcceptable("a gift line cannot be refunded on its own: refund it with the line it came with")
    return sorted(picked.items())


def take(items, amounts: dict, line_refunds: dict | None, picked: list[tuple[int, int]]
         ) -> tuple[int, tuple[dict, ...], dict]:
    """What the picked units are worth: (total fen, the refund's lines
    `{"line", "sku_id", "units", "amount"}`, the order's `line_refunds` after)."""
    paid = paid_shares.line_paid(items, amounts)
    after = {k: dict(v) for k, v in (line_refunds or {}).items()}
    lines = []
    for index, units in picked:
        item = items[index]
        units_before, amount_before = taken(line_refunds, index)
        amount = 0 if item.get("gift") else worth(paid[index], int(item["quantity"]), units_before,
                                                  amount_before, units)
        after[str(index)] = {"units": units_before + units, "amount": amount_before + amount}
        lines.append({"line": index, "sku_id": item["sku_id"], "units": units, "amount": amount})
    return sum(ln["amount"] for ln in lines), tuple(lines), after


def scaled(lines, amount: int) -> tuple[dict, ...]:
    """The refund's lines when it refunds `amount`, less than the units are worth (an
    after-sale agreed for less): each line's `amount` is its share of `amount`, in
    proportion to what its units are worth (exact to the fen, `paid_shares.share`), and
    `held` what the line keeps taken. The units' whole worth stays taken on the order,
    so the fen not refunded never move to the line's other units."""
    shares = paid_shares.share([int(ln["amount"]) for ln in lines], amount)
    return tuple({**ln, "amount": share, "held": int(ln["amount"])} for ln, share in zip(lines, shares, strict=True))


def _held(ln: dict) -> int:
    """Fen a refund's line holds on the order: its worth (`held`, when the refund was for
    less) or its amount."""
    return int(ln.get("held", ln["amount"]))


def give_back(line_refunds: dict | None, lines) -> dict | None:
    """The order's `line_refunds` once a refund of `lines` failed or was rejected."""
    if not lines:
        return line_refunds
    after = {k: dict(v) for k, v in (line_refunds or {}).items()}
    for ln in lines:
        held = after.get(str(ln["line"]), {"units": 0, "amount": 0})
        after[str(ln["line"])] = {"units": max(0, int(held["units"]) - int(ln["units"])),
                                  "amount": max(0, int(held["amount"]) - _held(ln))}
    return after


def take_again(items, line_refunds: dict | None, lines) -> dict | None:
    """A refund recorded as failed (its units given back) succeeded after all: its units
    and fen are taken again, never past the line's quantity (what another refund took
    meanwhile is the anomaly the caller records)."""
    if not lines:
        return line_refunds
    after = {k: dict(v) for k, v in (line_refunds or {}).items()}
    for ln in lines:
        index = int(ln["line"])
        units, amount = taken(after, index)
        after[str(index)] = {"units": min(int(items[index]["quantity"]), units + int(ln["units"])),
                             "amount": amount + _held(ln)}
    return after
