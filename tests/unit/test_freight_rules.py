"""Freight templates' rules (layers/domain/freight.py), one test a rule, with the fee worked
out by hand in each; the province names as WeChat's picker gives them; and properties:
the total is the parts' sum, no fee is negative, a template's view is what it is made from."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.domain import errors
from layers.domain.freight import (
    PROVINCES,
    Charge,
    FreeRule,
    Freight,
    FreightLine,
    FreightPart,
    FreightTemplate,
    RegionCharge,
    fee_of,
    freight,
    province_of,
    template_from,
    template_view,
)

NOW = "2026-12-05T08:00:00Z"
FLAT = {"flat_fee": 800, "free_threshold": 9900}


def line(sku="s1", template="t1", quantity=1, price=1000, weight_g=None) -> FreightLine:
    return FreightLine(sku_id=sku, template_id=template, quantity=quantity, amount=price * quantity,
                       weight_g=weight_g)


def by_piece(**kw) -> FreightTemplate:
    # first piece ¥10, each further 2 pieces started ¥5
    return FreightTemplate(**{"template_id": "t1", "name": "按件", "charge_by": "piece",
                              "default": Charge(first=1, first_fee=1000, additional=2, additional_fee=500), **kw})


def by_weight(**kw) -> FreightTemplate:
    # first 1,000 g ¥8, each further 500 g started ¥3
    return FreightTemplate(**{"template_id": "t2", "name": "按重", "charge_by": "weight",
                              "default": Charge(first=1000, first_fee=800, additional=500, additional_fee=300), **kw})


def priced(lines, templates, province="广东省", flat_goods=0, **flat) -> Freight:
    return freight(lines, {t.template_id: t for t in templates}, province, flat_goods=flat_goods, **{**FLAT, **flat})


# -- by the piece -----------------------------------------------------------------------------

@pytest.mark.parametrize(("pieces", "fee"), [(1, 1000), (2, 1500), (3, 1500), (4, 2000), (5, 2000), (6, 2500)])
def test_by_the_piece_the_first_then_each_further_step_started(pieces, fee):
    # 1 piece: ¥10; 2-3: + one step of 2; 4-5: + two; 6: + three
    result = priced([line(quantity=pieces)], [by_piece()])
    assert result.total == fee
    assert result.parts == (FreightPart("t1", "按件", pieces, 0, 1000 * pieces, fee, "default"),)


def test_lines_of_one_template_are_counted_together():
    # 2 + 1 = 3 pieces: ¥10 + one step of 2 = ¥15, not ¥15 + ¥10 line by line
    result = priced([line("a", quantity=2, price=300), line("b", quantity=1, price=700)], [by_piece()])
    assert result.total == 1500
    [part] = result.parts
    assert (part.pieces, part.amount, part.fee) == (3, 1300, 1500)


def test_additional_zero_charges_only_the_first():
    t = by_piece(default=Charge(first=1, first_fee=600, additional=0, additional_fee=400))
    assert priced([line(quantity=9)], [t]).total == 600


# -- by weight ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("grams", "fee"), [
    (1, 800), (1000, 800),  # within the first 1,000 g
    (1001, 1100), (1500, 1100),  # 1 g over starts a 500 g step: + ¥3
    (1501, 1400), (2000, 1400), (2001, 1700),
])
def test_by_weight_each_further_step_started_counts_whole(grams, fee):
    assert priced([line(template="t2", weight_g=grams)], [by_weight()]).total == fee


def test_weight_is_each_lines_weight_times_its_quantity():
    # 3 x 350 g + 2 x 200 g = 1,450 g: ¥8 + one 500 g step ¥3 = ¥11
    result = priced([line("a", "t2", quantity=3, weight_g=350), line("b", "t2", quantity=2, weight_g=200)],
                    [by_weight()])
    [part] = result.parts
    assert (part.pieces, part.weight_g, part.fee, part.rule) == (5, 1450, 1100, "default")


def test_zero_weight_costs_nothing_and_a_missing_weight_counts_zero():
    result = priced([line("a", "t2", quantity=2, weight_g=0), line("b", "t2", quantity=1, weight_g=None)],
                    [by_weight()])
    assert result.total == 0
    assert result.parts[0].weight_g == 0 and result.parts[0].pieces == 3
    # a weighed line beside an unweighed one: only the weighed grams count (600 g: the first ¥8)
    result = priced([line("a", "t2", quantity=2, weight_g=300), line("b", "t2", quantity=5, weight_g=None)],
                    [by_weight()])
    assert (result.total, result.parts[0].weight_g) == (800, 600)


# -- regions ------------------------------------------------------------------------------------

def test_a_region_charges_its_own_rates_for_its_provinces_only():
    far = RegionCharge(provinces=("新疆维吾尔自治区", "西藏自治区"),
                       charge=Charge(first=1, first_fee=2000, additional=1, additional_fee=1500))
    t = by_piece(regions=(far,))
    # 2 pieces to 新疆: ¥20 + ¥15 = ¥35; the same to 广东: ¥10 + ¥5 = ¥15
    there = priced([line(quantity=2)], [t], province="新疆维吾尔自治区")
    assert (there.total, there.parts[0].rule) == (3500, "region")
    assert priced([line(quantity=2)], [t], province="广东省").parts[0].rule == "default"
    assert priced([line(quantity=2)], [t], province="广东省").total == 1500
    # the short form a person types is the same province
    assert priced([line(quantity=2)], [t], province="新疆").total == 3500


def test_the_first_region_listing_a_province_decides():
    first = RegionCharge(("浙江省",), Charge(1, 300, 1, 100))
    later = RegionCharge(("浙江省", "江苏省"), Charge(1, 900, 1, 900))  # (template_from refuses this)
    assert priced([line()], [by_piece(regions=(first, later))], province="浙江省").total == 300


# -- free rules (包邮) ---------------------------------------------------------------------------

def test_free_from_an_amount():
    t = by_piece(free=(FreeRule(min_amount=9900),))
    below = priced([line(quantity=1, price=9899)], [t])
    assert (below.total, below.parts[0].rule) == (1000, "default")
    at = priced([line(quantity=1, price=9900)], [t])
    assert (at.total, at.parts[0].rule) == (0, "free")


def test_free_from_a_number_of_pieces():
    t = by_piece(free=(FreeRule(min_pieces=3),))
    assert priced([line(quantity=2)], [t]).total == 1500
    assert priced([line("a", quantity=2), line("b", quantity=1)], [t]).total == 0


def test_free_in_some_provinces():
    t = by_piece(free=(FreeRule(provinces=("上海市", "江苏省", "浙江省")),))
    assert priced([line()], [t], province="浙江省").parts[0].rule == "free"
    assert priced([line()], [t], province="浙江").total == 0
    assert priced([line()], [t], province="广东省").total == 1000
    assert priced([line()], [t], province=None).total == 1000  # no address: not known to be there


def test_free_needs_every_condition_it_gives():
    t = by_piece(free=(FreeRule(provinces=("广东省",), min_amount=5000, min_pieces=2),))
    assert priced([line(quantity=2, price=2500)], [t], province="广东省").total == 0
    assert priced([line(quantity=1, price=5000)], [t], province="广东省").total == 1000  # 1 piece
    assert priced([line(quantity=2, price=2000)], [t], province="广东省").total == 1500  # ¥40 of goods
    assert priced([line(quantity=2, price=2500)], [t], province="广西壮族自治区").total == 1500  # elsewhere


def test_any_free_rule_that_holds_is_enough():
    t = by_piece(free=(FreeRule(min_amount=100000), FreeRule(min_pieces=5)))
    assert priced([line(quantity=5, price=100)], [t]).total == 0
    assert priced([line(quantity=1, price=100000)], [t]).total == 0
    assert priced([line(quantity=4, price=100)], [t]).total == 2000


def test_the_free_amount_is_the_groups_goods_at_list_price():
    """Two templates: each free rule looks at its own lines' goods, not the order's."""
    t1 = by_piece(free=(FreeRule(min_amount=5000),))
    t2 = by_weight(free=(FreeRule(min_amount=5000),))
    result = priced([line("a", "t1", price=4000), line("b", "t2", price=4000, weight_g=100)], [t1, t2])
    assert [p.rule for p in result.parts] == ["default", "default"]
    assert result.total == 1000 + 800


# -- where it cannot go -------------------------------------------------------------------------

def test_an_undeliverable_province_is_refused_naming_it():
    t = by_piece(undeliverable=("西藏自治区",))
    with pytest.raises(errors.Undeliverable) as refused:
        priced([line()], [t], province="西藏")
    assert refused.value.code == "UNDELIVERABLE" and refused.value.kind == "unprocessable"
    assert "西藏自治区" in refused.value.message and refused.value.details["province"] == "西藏自治区"
    assert priced([line()], [t], province="四川省").total == 1000


def test_no_province_known_skips_the_check_and_charges_the_default():
    t = by_piece(undeliverable=("西藏自治区",), regions=(RegionCharge(("西藏自治区",), Charge(1, 5000, 1, 0)),))
    for nowhere in (None, "", "  "):
        result = priced([line(quantity=2)], [t], province=nowhere)
        assert (result.total, result.parts[0].rule) == (1500, "default")


@pytest.mark.parametrize("depends", [
    {"undeliverable": ("西藏自治区",)},
    {"regions": (RegionCharge(("西藏自治区",), Charge(1, 5000, 1, 0)),)},
    {"free": (FreeRule(provinces=("上海市",)),)},
])
def test_a_name_that_is_no_province_is_refused_where_the_price_depends_on_the_province(depends):
    """Its default could ship to a province the shop does not deliver to, or at another
    region's fee: the shopper is asked to pick the province instead."""
    t = by_piece(**depends)
    with pytest.raises(errors.Undeliverable) as refused:
        priced([line()], [t], province="火星")
    assert refused.value.details == {"province": "火星", "template_id": t.template_id, "reason": "unknown_province"}
    assert "火星" in refused.value.message


def test_a_name_that_is_no_province_pays_a_template_the_same_everywhere_and_the_flat_fee():
    assert priced([line(quantity=2)], [by_piece()], province="火星").total == 1500
    assert priced([line(template=None)], [by_piece(undeliverable=("西藏自治区",))], province="火星",
                  flat_goods=1000).total == 800


def test_the_flat_part_is_not_refused_where_a_template_would_be():
    t = by_piece(undeliverable=("西藏自治区",))
    assert priced([line(template=None)], [t], province="西藏自治区", flat_goods=1000).total == 800


# -- the flat part (products without a template) --------------------------------------------------

def test_lines_without_a_template_are_one_flat_part():
    result = priced([line("a", None, quantity=2), line("b", None, quantity=1)], [], flat_goods=3000)
    assert result.parts == (FreightPart(None, None, 3, 0, 3000, 800, "flat"),)
    assert result.total == 800


def test_the_flat_part_is_waived_at_the_threshold_of_the_goods_the_caller_passes():
    lines = [line(template=None, price=10000)]
    # the goods after discounts decide, as before templates: ¥100 at list price, ¥98 paid
    assert priced(lines, [], flat_goods=9800).parts[0].rule == "flat"
    assert priced(lines, [], flat_goods=9800).total == 800
    waived = priced(lines, [], flat_goods=9900)
    assert (waived.total, waived.parts[0].rule, waived.parts[0].fee) == (0, "flat_free", 0)
    free_shop = priced(lines, [], flat_goods=1, flat_fee=0)  # a shop with no flat fee
    assert (free_shop.total, free_shop.parts[0].rule) == (0, "flat_free")
    never_waived = priced(lines, [], flat_goods=10**8, free_threshold=0)
    assert never_waived.total == 800


def test_a_template_that_is_not_there_is_charged_flat():
    result = priced([line(template="gone", quantity=3)], [by_piece()], flat_goods=3000)
    assert result.parts == (FreightPart(None, None, 3, 0, 3000, 800, "flat"),)


def test_no_lines_no_parts():
    assert priced([], [by_piece()]) == Freight(total=0, parts=())


# -- several templates ----------------------------------------------------------------------------

def test_several_templates_and_the_flat_part_are_summed_in_the_order_of_their_first_line():
    t3 = FreightTemplate("t3", "大件", "piece", Charge(2, 3000, 1, 1000))
    lines = [line("w", "t2", quantity=1, weight_g=1200, price=5000),  # 1,200 g: ¥8 + ¥3 = ¥11
             line("p", "t1", quantity=3, price=100),  # 3 pieces: ¥10 + ¥5 = ¥15
             line("f", None, quantity=1, price=2000),  # flat: ¥8 (¥20 of goods, below ¥99)
             line("q", "t1", quantity=1, price=100),  # with "p": 4 pieces: ¥10 + ¥10 = ¥20
             line("b", "t3", quantity=3, price=100)]  # 3 pieces, first 2: ¥30 + ¥10 = ¥40
    result = priced(lines, [by_piece(), by_weight(), t3], flat_goods=2000)
    assert [(p.template_id, p.fee) for p in result.parts] == [("t2", 1100), ("t1", 2000), (None, 800), ("t3", 4000)]
    assert result.total == 1100 + 2000 + 800 + 4000
    assert result.as_dict() == {"total": 7900, "parts": [
        {"template_id": "t2", "name": "按重", "pieces": 1, "weight_g": 1200, "amount": 5000, "fee": 1100,
         "rule": "default"},
        {"template_id": "t1", "name": "按件", "pieces": 4, "weight_g": 0, "amount": 400, "fee": 2000, "rule": "default"},
        {"template_id": None, "name": None, "pieces": 1, "weight_g": 0, "amount": 2000, "fee": 800, "rule": "flat"},
        {"template_id": "t3", "name": "大件", "pieces": 3, "weight_g": 0, "amount": 300, "fee": 4000,
         "rule": "default"}]}


def test_one_undeliverable_template_refuses_the_whole_order():
    with pytest.raises(errors.Undeliverable):
        priced([line("a", "t1"), line("b", "t2", weight_g=10)], [by_piece(), by_weight(undeliverable=("海南省",))],
               province="海南省")


# -- provinces as WeChat's picker names them --------------------------------------------------------

def test_the_34_provinces_are_the_pickers_names_in_their_stored_order():
    # the order is stored (a template keeps its provinces by position): it never changes
    assert PROVINCES == (
        "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "上海市", "江苏省",
        "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区",
        "海南省", "重庆市", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省",
        "宁夏回族自治区", "新疆维吾尔自治区", "台湾省", "香港特别行政区", "澳门特别行政区")
    assert len(set(PROVINCES)) == 34


@pytest.mark.parametrize("name", PROVINCES)
def test_every_picker_name_is_itself(name):
    assert province_of(name) == name


@pytest.mark.parametrize(("typed", "province"), [
    ("广东", "广东省"), ("北京", "北京市"), ("内蒙古", "内蒙古自治区"), ("黑龙江", "黑龙江省"),
    ("广西", "广西壮族自治区"), ("广西自治区", "广西壮族自治区"), ("西藏", "西藏自治区"), ("宁夏", "宁夏回族自治区"),
    ("新疆", "新疆维吾尔自治区"), ("新疆维吾尔族自治区", "新疆维吾尔自治区"), ("香港", "香港特别行政区"),
    ("澳门", "澳门特别行政区"), ("台湾", "台湾省"), (" 浙江省 ", "浙江省"), ("上海", "上海市"), ("重庆", "重庆市"),
])
def test_short_forms_are_the_province(typed, province):
    assert province_of(typed) == province


@pytest.mark.parametrize("nothing", [None, "", "  ", "火星", "广", "广东市场", "东省", "California", 3])
def test_what_is_no_province_is_none(nothing):
    assert province_of(nothing) is None


# -- a template from the API's body ---------------------------------------------------------------

def body(**kw) -> dict:
    return {"name": "默认运费", "charge_by": "piece",
            "default": {"first": 1, "first_fee": 1000, "additional": 1, "additional_fee": 500}, **kw}


def test_a_body_makes_a_template_with_canonical_provinces_in_order():
    t = template_from(body(regions=[{"provinces": ["新疆", "西藏自治区"], "first": 1, "first_fee": 2000,
                                     "additional": 1, "additional_fee": 1500}],
                           free=[{"provinces": ["浙江", "上海"], "min_amount": 9900}],
                           undeliverable=["香港", "澳门特别行政区", "香港特别行政区"]), "ft_1", NOW)
    assert t.regions == (RegionCharge(("西藏自治区", "新疆维吾尔自治区"), Charge(1, 2000, 1, 1500)),)
    assert t.free == (FreeRule(("上海市", "浙江省"), 9900, None),)
    assert t.undeliverable == ("香港特别行政区", "澳门特别行政区")
    assert (t.version, t.created_at, t.updated_at) == (1, NOW, NOW)
    again = template_from(template_view(t), "ft_1", "2026-12-06T00:00:00Z", version=2, created_at=NOW)
    assert (again.regions, again.free, again.undeliverable) == (t.regions, t.free, t.undeliverable)
    assert (again.version, again.created_at, again.updated_at) == (2, NOW, "2026-12-06T00:00:00Z")


@pytest.mark.parametrize(("changes", "said"), [
    ({"regions": [{"provinces": ["火星", "广东"], "first": 1, "first_fee": 1, "additional": 1,
                   "additional_fee": 1}]}, "火星"),
    ({"undeliverable": ["Atlantis"]}, "Atlantis"),
    ({"regions": [{"provinces": ["广东"], "first": 1, "first_fee": 1, "additional": 1, "additional_fee": 1},
                  {"provinces": ["广东省", "广西"], "first": 1, "first_fee": 2, "additional": 1,
                   "additional_fee": 1}]}, "广东省"),
    ({"default": {"first": 0, "first_fee": 1000, "additional": 1, "additional_fee": 500}}, "default.first"),
    ({"default": {"first": 1, "first_fee": -1, "additional": 1, "additional_fee": 500}}, "default.first_fee"),
    ({"regions": [{"provinces": ["广东"], "first": 1, "first_fee": 1, "additional": 1,
                   "additional_fee": -5}]}, "regions[0].additional_fee"),
    ({"free": [{}]}, "free[0]"),
    ({"free": [{"provinces": [], "min_amount": None}]}, "free[0]"),
    ({"charge_by": "volume"}, "charge_by"),
    ({"name": "  "}, "name"),
    ({"regions": [{"provinces": [], "first": 1, "first_fee": 1, "additional": 1, "additional_fee": 1}]},
     "at least one province"),
    ({"regions": [{"provinces": ["西藏"], "first": 1, "first_fee": 1, "additional": 1, "additional_fee": 1}],
      "undeliverable": ["西藏"]}, "西藏自治区"),
    ({"default": {"first": True, "first_fee": 1, "additional": 1, "additional_fee": 1}}, "default.first"),
])
def test_a_wrong_body_is_refused_saying_what(changes, said):
    with pytest.raises(errors.InvalidRequest) as refused:
        template_from(body(**changes), "ft_1", NOW)
    assert said in refused.value.message


# -- properties ------------------------------------------------------------------------------------

charges = st.builds(Charge, first=st.integers(1, 5000), first_fee=st.integers(0, 5000),
                    additional=st.integers(0, 5000), additional_fee=st.integers(0, 5000))
some_provinces = st.lists(st.sampled_from(PROVINCES), max_size=5, unique=True).map(tuple)


@st.composite
def templates(draw, template_id):
    regions, taken = [], set()
    for provinces in draw(st.lists(some_provinces.filter(bool), max_size=3)):
        fresh = tuple(p for p in provinces if p not in taken)
        if fresh:
            taken.update(fresh)
            regions.append(RegionCharge(fresh, draw(charges)))
    free = draw(st.lists(st.builds(FreeRule, provinces=some_provinces,
                                   min_amount=st.none() | st.integers(1, 100000),
                                   min_pieces=st.none() | st.integers(1, 20)), max_size=2))
    return FreightTemplate(template_id, f"模板{template_id}", draw(st.sampled_from(("piece", "weight"))),
                           draw(charges), tuple(regions), tuple(free))


lines_st = st.lists(st.builds(FreightLine, sku_id=st.text("abc", min_size=1, max_size=2),
                              template_id=st.sampled_from([None, "t1", "t2", "gone"]),
                              quantity=st.integers(1, 50), amount=st.integers(0, 10**6),
                              weight_g=st.none() | st.integers(0, 20000)), max_size=8)


@given(lines_st, templates("t1"), templates("t2"), st.none() | st.sampled_from(PROVINCES),
       st.integers(0, 2000), st.integers(0, 20000), st.integers(0, 10**6))
def test_the_total_is_the_parts_sum_and_no_fee_is_negative(lines, t1, t2, province, flat_fee, threshold, goods):
    result = freight(lines, {"t1": t1, "t2": t2}, province, flat_fee=flat_fee, free_threshold=threshold,
                     flat_goods=goods)
    assert result.total == sum(p.fee for p in result.parts)
    assert all(p.fee >= 0 for p in result.parts)
    assert sum(p.pieces for p in result.parts) == sum(x.quantity for x in lines)  # every line counted once
    assert len({p.template_id for p in result.parts}) == len(result.parts)  # one part a template
    assert result.as_dict()["total"] == result.total


@given(charges, st.integers(0, 10**6))
def test_a_fee_grows_with_the_units(charge, units):
    assert 0 <= fee_of(charge, units) <= fee_of(charge, units + 1)


def test_a_refusal_says_where_and_why_for_the_console_to_word_it():
    with pytest.raises(errors.InvalidRequest) as refused:
        template_from(body(regions=[{"provinces": ["广东"], "first": 1, "first_fee": 1, "additional": 1,
                                     "additional_fee": 1},
                                    {"provinces": ["广东省"], "first": 1, "first_fee": 2, "additional": 1,
                                     "additional_fee": 1}]), "ft_1", NOW)
    assert refused.value.details == {"path": ("regions", 1, "provinces"), "reason": "province_twice",
                                     "provinces": ["广东省"]}
    with pytest.raises(errors.InvalidRequest) as refused:
        template_from(body(default={"first": 1, "first_fee": 10**9, "additional": 0, "additional_fee": 0}),
                      "ft_1", NOW)
    assert refused.value.details["path"] == ("default", "first_fee") and refused.value.details["reason"] == "range"
