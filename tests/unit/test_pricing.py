from hypothesis import given
from hypothesis import strategies as st

from layers.domain import errors, pricing


def line(price, qty, sku="s1"):
    return pricing.Line(sku_id=sku, product_id="p", title="t", category=None, quantity=qty, unit_price=price)


def test_price_sums_lines_and_applies_discount_and_shipping():
    amounts = pricing.price([line(1000, 2), line(350, 1, "s2")], discount=300, shipping=800)
    assert amounts.as_dict() == {"goods": 2350, "discount": 300, "shipping": 800, "payable": 2850}


def test_free_shipping_threshold():
    assert pricing.shipping_for(goods=9999, fee=800, free_threshold=10000) == 800
    assert pricing.shipping_for(goods=10000, fee=800, free_threshold=10000) == 0
    assert pricing.shipping_for(goods=1, fee=0, free_threshold=0) == 0
    assert pricing.shipping_for(goods=10**9, fee=500, free_threshold=0) == 500


def test_nothing_to_pay_is_refused():
    try:
        pricing.price([line(100, 1)], discount=100, shipping=0)
    except errors.NotAcceptable:
        pass
    else:
        raise AssertionError("a 0 fen order must be refused")


def test_merge_quantities():
    assert pricing.merge_quantities([("a", 1), ("b", 2), ("a", 3)]) == {"a": 4, "b": 2}


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=20),
       st.integers(min_value=0, max_value=10**7))
def test_prorate_is_exact_and_proportional(parts, amount):
    total = sum(parts)
    shares = pricing.prorate(total, parts, amount)
    if total == 0:
        assert shares == [0] * len(parts)
        return
    assert sum(shares) == amount
    for share, part in zip(shares, parts, strict=True):
        assert abs(share * total - amount * part) < total  # within one fen of exact
