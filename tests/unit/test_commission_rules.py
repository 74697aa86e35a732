"""Commission and attribution rules, pure."""

from hypothesis import given
from hypothesis import strategies as st

from layers.domain import attribution
from layers.domain import commission as rules

TIERS = rules.tiers_from([
    {"name": "铜牌", "rate_bps": 300},
    {"name": "银牌", "rate_bps": 500, "min_sales_count": 10},
    {"name": "金牌", "rate_bps": 800, "min_sales_count": 10, "min_sales_amount": 1_000_000},
])


def line(price, qty, sku="s1", commission=None):
    return {"sku_id": sku, "quantity": qty, "unit_price": price, "commission": commission}


def test_tier_is_the_last_listed_whose_thresholds_are_all_reached():
    assert rules.choose_tier(TIERS, 0, 0).name == "铜牌"
    assert rules.choose_tier(TIERS, 9, 5_000_000).name == "铜牌"  # amount alone is not enough
    assert rules.choose_tier(TIERS, 10, 0).name == "银牌"
    assert rules.choose_tier(TIERS, 10, 999_999).name == "银牌"
    assert rules.choose_tier(TIERS, 10, 1_000_000).name == "金牌"


def test_below_every_tier_earns_nothing():
    tiers = rules.tiers_from([{"name": "A", "rate_bps": 500, "min_sales_count": 1}])
    assert rules.choose_tier(tiers, 0, 0) == rules.NO_TIER
    assert rules.choose_tier(tiers, 0, 0).rate_bps == 0


def test_fixed_rate_beats_tier_rate_and_tier_is_default():
    assert rules.line_rate({"mode": "fixed", "rate_bps": 1200}, 300) == 1200
    assert rules.line_rate({"mode": "tier"}, 300) == 300
    assert rules.line_rate(None, 300) == 300


def test_commission_is_on_the_paid_goods_per_line_rounded_down():
    lines = [line(1999, 1, "a"), line(1001, 1, "b", {"mode": "fixed", "rate_bps": 1000})]
    result = rules.order_commission(lines, {"payable": 2700}, tier_rate_bps=333)
    # 2700 after discount, prorated 1799 / 901 (largest remainder)
    assert [r.base for r in result] == [1799, 901]
    assert [r.amount for r in result] == [1799 * 333 // 10000, 90]
    assert [r.rate_bps for r in result] == [333, 1000]


def test_the_member_discount_and_the_points_spent_earn_nothing():
    """A commission is on what the shopper paid for the goods: the coupon, the member
    level's discount and the points are all off; shipping earns nothing."""
    from types import SimpleNamespace

    from layers.domain import commission_entry

    items = ({"sku_id": "a", "quantity": 2, "unit_price": 3000, "commission": None},
             {"sku_id": "b", "quantity": 1, "unit_price": 4000, "commission": {"mode": "fixed", "rate_bps": 1000}})
    amounts = {"goods": 10_000, "discount": 500, "member_discount": 950, "points_discount": 300,
               "shipping": 800, "payable": 8_250 + 800}
    order = SimpleNamespace(distributor_id="d1", user_id="u1", order_id="o1", transaction_id="42", paid_at="t",
                            paid_amount=9_050, amounts=amounts, items=items)
    c = commission_entry.accrue(order, rules.Tier("铜牌", 500), "2026-12-05T00:00:00Z").after
    assert [ln["base"] for ln in c.lines] == [4_950, 3_300]   # 8,250 shared 6:4
    assert c.amount == 4_950 * 500 // 10_000 + 330 and c.base == 8_250
    balance_paid = SimpleNamespace(**{**vars(order), "transaction_id": None})
    assert commission_entry.accrue(balance_paid, rules.Tier("铜牌", 500), "2026-12-05T00:00:00Z") is not None


def test_reversal_in_proportion_and_order_independent():
    # accrued 100 on 1000 paid; refunds of 300 and 200 in either order
    assert rules.reversal(100, 0, 1000, 300) == 30
    assert rules.reversal(100, 30, 1000, 500) == 20
    assert rules.reversal(100, 0, 1000, 500) == 50
    assert rules.reversal(100, 50, 1000, 300) == 0  # an older total never gives back
    assert rules.reversal(100, 50, 1000, 1000) == 50


def test_attribution_last_touch_expiry_and_self():
    now = "2026-11-22T08:00:00Z"
    b = attribution.Binding("buyer", "d1", "2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z")
    assert attribution.attribute("buyer", None, b, now) == "d1"
    assert attribution.attribute("buyer", "d2", b, now) == "d2"  # the order's token wins
    assert attribution.attribute("buyer", "buyer", b, now) == "d1"  # own token ignored
    assert attribution.attribute("buyer", None, b, "2026-11-27T00:00:00Z") is None  # expired
    assert attribution.attribute("d1", None, attribution.Binding("d1", "d1", now, "2099-01-01T00:00:00Z"),
                                 now) is None
    assert not attribution.binds("d1", "d1", 3600)
    assert not attribution.binds("x", "d1", 0)
    assert attribution.replaces(b, "2026-11-21T00:00:00Z")
    assert not attribution.replaces(b, "2026-11-19T00:00:00Z")


prices = st.integers(min_value=1, max_value=100_000)


@given(
    lines=st.lists(st.tuples(prices, st.integers(1, 5), st.one_of(st.none(), st.integers(0, 10_000))),
                   min_size=1, max_size=6),
    tier_rate=st.integers(0, 10_000),
    discount_pct=st.integers(0, 99),
    shipping=st.integers(0, 2_000),
    refunds=st.lists(st.integers(1, 10**6), max_size=6),
)
def test_commission_never_exceeds_rate_times_paid_minus_refunded(lines, tier_rate, discount_pct, shipping,
                                                                   refunds):
    items = [line(p, q, f"s{i}", None if r is None else {"mode": "fixed", "rate_bps": r})
             for i, (p, q, r) in enumerate(lines)]
    goods = sum(p * q for p, q, _ in lines)
    discount = goods * discount_pct // 100
    paid = goods - discount + shipping
    result = rules.order_commission(items, {"payable": goods - discount}, tier_rate)
    max_rate = max(r.rate_bps for r in result)
    accrued = sum(r.amount for r in result)
    assert accrued * 10_000 <= max_rate * (goods - discount)

    taken = refunded = 0
    for amount in refunds:
        amount = min(amount, paid - refunded)
        if amount <= 0:
            break
        refunded += amount
        step = rules.reversal(accrued, taken, paid, refunded)
        assert step >= 0
        taken += step
        kept = accrued - taken
        assert kept >= 0
        assert kept * 10_000 <= max_rate * (paid - refunded)
    if refunded == paid:
        assert accrued - taken == 0


# -- the commission aggregate's transitions (layers/domain/commission_entry.py) -------------------

def _paid_order(amount: int, quantity: int):
    from layers.domain import order as order_rules
    from layers.domain.order import Order

    return Order(order_id="o1", user_id="buyer", openid="x", status=order_rules.PAID,
                 items=({"sku_id": "s1", "quantity": quantity, "unit_price": amount, "commission": None},),
                 amounts={"goods": amount * quantity, "discount": 0, "shipping": 0, "payable": amount * quantity},
                 created_at="t", expires_at="t", distributor_id="d1", transaction_id="42", paid_at="t",
                 paid_amount=amount * quantity)


@given(
    price=st.integers(1, 50_000), quantity=st.integers(1, 5), rate=st.integers(0, 10_000),
    steps=st.lists(st.one_of(st.tuples(st.just("refund"), st.integers(1, 300_000)),
                             st.sampled_from([("settle",), ("claim",), ("give_back",)])), max_size=12),
)
def test_totals_always_account_for_everything_accrued(price, quantity, rate, steps):
    """Whatever happens to a commission (refunds before or after payout, payouts made or
    failed), its distributor's buckets add up to what was accrued plus what it owes back
    (a refund after payout is a debt), no commission is negative, a debt is owed once and
    for exactly what the refund took after payout, and a refund seen twice changes nothing."""
    from layers.domain import commission_entry as cm
    from layers.domain import errors

    change = cm.accrue(_paid_order(price, quantity), rules.Tier("t", rate), "2026-01-01T00:00:00Z")
    stats = dict(change.stats)
    items = {change.after.commission_id: change.after}
    c = change.after
    c = cm.make_settleable(cm.schedule(c, "2026-01-01T00:00:00Z", 0, "t").after, "2026-01-01T00:00:00Z").after
    items[c.commission_id] = c
    refunds = 0
    owed = []
    for n, step in enumerate(steps):
        try:
            if step[0] == "refund":
                change = cm.reverse(c, f"R{n}", step[1], 0, "t")
                assert cm.reverse(change.after, f"R{n}", step[1], 0, "t") is None
                refunds += 1
            elif step[0] == "claim":
                change = cm.claim(c, "P", "t")
            elif step[0] == "give_back":
                change = cm.give_back(c, "t")
            else:
                change = cm.settle(c, "t")
        except errors.InvalidState:
            continue
        c = change.after
        assert c.rev == change.before.rev + 1
        assert change.creates == ()
        if change.debt is not None:
            assert change.before.status in (cm.SETTLING, cm.SETTLED) and change.debt.amount > 0
            assert change.debt.amount == change.after.adjusted - change.before.adjusted
            owed.append(change.debt)
        items[c.commission_id] = c
        stats = cm.add_stats(stats, change.stats)
    assert c.amount >= 0
    money = sum(stats.get(k, 0) for k in ("pending", "settleable", "settled", "reversed"))
    assert money == items["o1"].accrued + stats.get("debt", 0)
    assert stats.get("debt", 0) == sum(e.amount for e in owed) == items["o1"].adjusted
    assert len({e.entry_id for e in owed}) == len(owed)
    assert stats.get("sales_count", 0) == items["o1"].counted
    assert stats.get("sales_amount", 0) == items["o1"].sales_base
