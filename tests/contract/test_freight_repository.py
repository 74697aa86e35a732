"""The freight repository, in memory and on DynamoDB Local alike: every template in one item,
written by compare-and-set, so concurrent edits never lose one; at most 100 templates, and
the largest 100 fit DynamoDB's item limit."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from layers.domain import errors
from layers.domain.freight import (
    MAX_FREE_RULES,
    MAX_NAME,
    MAX_TEMPLATES,
    PROVINCES,
    Charge,
    FreeRule,
    FreightTemplate,
    RegionCharge,
)

NOW = "2026-12-05T08:00:00Z"


@pytest.fixture(params=["memory", pytest.param("dynamodb", marks=pytest.mark.integration)])
def freight(request):
    if request.param == "memory":
        from tests.fakes.freight import MemoryFreightRepository
        from tests.fakes.memory import MemoryStore

        return MemoryFreightRepository(MemoryStore())
    request.getfixturevalue("dynamodb")
    from layers.storage.freight import DynamoFreightRepository

    # an item of this test's own: the shop's item is shared by every test of the session
    return DynamoFreightRepository(key=("FREIGHT", f"TEMPLATES#test-{uuid.uuid4().hex}"))


def a_template(template_id: str, name: str = "默认", **kw) -> FreightTemplate:
    return FreightTemplate(**{
        "template_id": template_id, "name": name, "charge_by": "piece",
        "default": Charge(1, 1000, 1, 500),
        "regions": (RegionCharge(("新疆维吾尔自治区", "西藏自治区"), Charge(1, 2000, 1, 1500)),),
        "free": (FreeRule(("上海市", "浙江省"), 9900, None), FreeRule((), None, 3)),
        "undeliverable": ("香港特别行政区",), "created_at": NOW, "updated_at": NOW, **kw})


def largest(template_id: str) -> FreightTemplate:
    """As big as a template gets: a region a province, every free rule naming all 34."""
    return FreightTemplate(
        template_id=template_id, name="运" * MAX_NAME, charge_by="weight",
        default=Charge(1_000_000, 10_000_000, 1_000_000, 10_000_000),
        regions=tuple(RegionCharge((p,), Charge(1_000_000, 10_000_000, 1_000_000, 10_000_000)) for p in PROVINCES),
        free=tuple(FreeRule(PROVINCES, 100_000_000, 1_000_000) for _ in range(MAX_FREE_RULES)),
        version=999_999, created_at=NOW, updated_at=NOW)


class TestFreightRepository:
    def test_created_read_back_listed_and_refused_twice(self, freight):
        assert freight.all() == {} and freight.get("ft_1") is None
        t = a_template("ft_1")
        assert freight.create(t) == t
        assert freight.get("ft_1") == t
        assert freight.create(a_template("ft_2", "大件")).name == "大件"
        assert list(freight.all()) == ["ft_1", "ft_2"]  # in the order they were made
        with pytest.raises(errors.InvalidState):
            freight.create(a_template("ft_1", "again"))
        assert freight.get("ft_1") == t

    def test_an_update_is_conditioned_on_the_templates_version(self, freight):
        t = freight.create(a_template("ft_1"))
        edited = replace(t, name="改过", version=2, updated_at="2026-12-06T00:00:00Z")
        assert freight.update(edited, expected_version=1) == edited
        assert freight.get("ft_1") == edited
        with pytest.raises(errors.InvalidState):
            freight.update(replace(t, name="旧的", version=2), expected_version=1)  # read before the edit
        assert freight.get("ft_1").name == "改过"
        with pytest.raises(errors.NotFound):
            freight.update(a_template("ft_missing"), expected_version=1)

    def test_at_most_100_templates(self, freight):
        for n in range(MAX_TEMPLATES):
            freight.create(a_template(f"ft_{n:03d}", regions=(), free=()))
        with pytest.raises(errors.LimitExceeded):
            freight.create(a_template("ft_one_more"))
        assert len(freight.all()) == MAX_TEMPLATES
        assert freight.update(replace(freight.get("ft_000"), name="还能改", version=2), 1).name == "还能改"

    def test_concurrent_creates_and_edits_of_different_templates_are_all_kept(self, freight):
        threads = 8
        start = threading.Barrier(threads)

        def make(n):
            start.wait()
            return freight.create(a_template(f"ft_{n}", f"模板{n}")).template_id

        with ThreadPoolExecutor(threads) as pool:
            made = list(pool.map(make, range(threads)))
        assert sorted(freight.all()) == sorted(made) == sorted(f"ft_{n}" for n in range(threads))

        def edit(n):
            start.wait()
            t = freight.get(f"ft_{n}")
            return freight.update(replace(t, name=f"改{n}", version=t.version + 1), t.version)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(edit, range(threads)))
        assert {t.template_id: (t.name, t.version) for t in freight.all().values()} == {
            f"ft_{n}": (f"改{n}", 2) for n in range(threads)}

    def test_two_edits_of_one_template_from_the_same_read_one_wins_one_is_told(self, freight):
        freight.create(a_template("ft_1"))
        start = threading.Barrier(2)

        def edit(name):
            t = freight.get("ft_1")
            start.wait()  # both have read version 1
            try:
                freight.update(replace(t, name=name, version=t.version + 1), t.version)
                return name
            except errors.InvalidState:
                return "refused"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(edit, ["甲", "乙"]))
        assert outcomes in (["refused", "甲"], ["refused", "乙"])
        stored = freight.get("ft_1")
        assert stored.version == 2 and stored.name in outcomes


def test_the_largest_100_templates_fit_one_item():
    from layers.storage.freight import decode, dump, encode

    big = largest("ft_" + "x" * 20)
    assert decode(json.loads(json.dumps(encode(big)))) == big
    size = len(dump([largest(f"ft_{n:020d}") for n in range(MAX_TEMPLATES)]).encode())
    assert size < 300_000, size  # DynamoDB's limit is 400 KB an item, keys and names included


@pytest.mark.integration
def test_the_largest_100_templates_are_written_and_read_whole(dynamodb):
    from layers.storage.freight import DynamoFreightRepository, FreightTemplatesItem, to_templates

    key = ("FREIGHT", f"TEMPLATES#test-{uuid.uuid4().hex}")
    repo = DynamoFreightRepository(key=key)
    for n in range(MAX_TEMPLATES):
        repo.create(largest(f"ft_{n:020d}"))
    found = to_templates(FreightTemplatesItem.get(*key))  # as an order's batch read takes it
    assert len(found) == MAX_TEMPLATES and found[f"ft_{0:020d}"] == largest(f"ft_{0:020d}")
    assert to_templates(None) == {}


@pytest.mark.integration
def test_the_shops_item_is_the_one_exported_for_the_order_read(dynamodb):
    from layers.storage.freight import TEMPLATES_KEY, DynamoFreightRepository

    assert TEMPLATES_KEY == ("FREIGHT", "TEMPLATES")
    assert DynamoFreightRepository().key == TEMPLATES_KEY
