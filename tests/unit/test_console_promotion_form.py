"""The console's promotion form read exactly: yuan to fen and 折 to percent by the decimal
text (never a float), only the chosen kind's fields, blank rows left out; and what the
domain refuses put beside the form field it is about."""

from __future__ import annotations

import pytest

from functions.console.promotions import count, fen, field_key, to_body, typed, zhe


@pytest.mark.parametrize(("text", "fen_"), [("0.1", 10), ("0.01", 1), ("99.9", 9990), ("1,200", 120000),
                                            ("¥300", 30000), ("19.99", 1999), ("1000000", 100_000_000)])
def test_yuan_is_fen_exactly(text, fen_):
    assert fen(text) == fen_


@pytest.mark.parametrize("text", ["1.005", "1e3", "NaN", "-5", "", "12.", ".5", "١٢", "Infinity"])
def test_what_is_no_amount_is_refused_not_rounded(text):
    with pytest.raises(ValueError):
        fen(text)


def test_zhe_is_the_percent_paid():
    assert [zhe(t) for t in ("8", "8.5", "0.5", "9.9", "5折")] == [80, 85, 5, 99, 50]
    assert zhe("0", free=True) == 0
    for bad in ("8.55", "10", "80", "", "a"):
        with pytest.raises(ValueError):
            zhe(bad)
    with pytest.raises(ValueError):
        count("2.5")


def form(**fields) -> dict:
    return {k: v if isinstance(v, list) else [v] for k, v in fields.items()}


def test_only_the_kinds_fields_are_read_and_blank_rows_left_out():
    values = typed(form(name="打包", kind="bundle", t0_pieces="3", t0_price="99", t0_threshold="300", t0_off="50",
                        t2_pieces="5", t2_price="150", starts_at="2026-12-12T00:00", ends_at="2026-12-13T00:00",
                        product_ids=["p_1", "p_1", "p_2"], with_coupons="1"))
    body, problems, rows = to_body(values)
    assert problems == {} and rows == [0, 2]
    assert body["tiers"] == [{"min_quantity": 3, "value": 9900}, {"min_quantity": 5, "value": 15000}]
    assert body["starts_at"] == "2026-12-12T00:00:00+08:00" and body["scope"]["product_ids"] == ["p_1", "p_2"]
    assert body["with_coupons"] is True and body["new_customers_only"] is False and "gift_sku_id" not in body
    assert typed({})["with_coupons"] is True  # a new form: usable with coupons unless unticked
    assert typed(form(name="x"))["with_coupons"] is False  # posted without the box: unticked


def test_a_refusal_is_put_beside_its_field():
    rows = [0, 2]
    assert field_key(("tiers", 1, "value"), "amount_off", rows) == "t2_off"
    assert field_key(("tiers", 1, "value"), "percent_off", rows) == "t2_zhe"
    assert field_key(("tiers", 0, "min_quantity"), "bundle", rows) == "t0_pieces"
    assert field_key(("tiers", 0), "gift", rows) == "t0"
    assert field_key(("tiers",), "gift", rows) == "tiers"
    assert field_key(("scope", "product_ids"), "gift", rows) == "scope"
    assert field_key(("ends_at",), "gift", rows) == "ends_at"
    assert field_key((), "gift", rows) == "_"
