"""Stores' pure rules (fields, distances, order) and the store service over the in-memory
fakes: edits at a version or last-writer-wins, the shoppers' nearest-first list, one staff
place per person. On DynamoDB Local: tests/contract/test_store_repository.py and
tests/integration/test_stores.py."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from layers.domain import errors
from layers.domain import stores as rules
from layers.services.stores import StoreService
from tests.fakes.memory import FakeClock, MemoryStore
from tests.fakes.stores import MemoryStoreRepository

NOW = "2026-12-06T08:00:00Z"
PEOPLES_SQUARE = (31.2335, 121.4752)  # 人民广场 (the metro station)
THE_BUND = (31.2405, 121.4872)  # 外滩 at the end of 南京东路
LUJIAZUI = (31.2397, 121.4998)  # 陆家嘴


# -- the pure rules ----------------------------------------------------------------------------

def test_haversine_against_known_distances():
    # People's Square to the Bund: about 1.3 to 1.4 km; the spherical law of cosines agrees
    import math

    (a, b), (c, d) = (map(math.radians, PEOPLES_SQUARE)), (map(math.radians, THE_BUND))
    cosines = rules.EARTH_RADIUS_M * math.acos(math.sin(a) * math.sin(c) + math.cos(a) * math.cos(c) * math.cos(d - b))
    assert 1300 <= rules.distance_m(*PEOPLES_SQUARE, *THE_BUND) <= 1450
    assert rules.distance_m(*PEOPLES_SQUARE, *THE_BUND) == pytest.approx(cosines, abs=1)
    assert rules.distance_m(*PEOPLES_SQUARE, *PEOPLES_SQUARE) == 0
    # one degree of latitude is ~111.2 km on the mean sphere
    assert rules.distance_m(30.0, 121.0, 31.0, 121.0) == pytest.approx(111_195, abs=5)
    # Shanghai to Beijing (Tiananmen) is ~1,067 km as the crow flies
    assert rules.distance_m(*PEOPLES_SQUARE, 39.9087, 116.3975) == pytest.approx(1_067_000, rel=0.01)
    # symmetric, and across the antimeridian the short way
    assert rules.distance_m(*THE_BUND, *LUJIAZUI) == rules.distance_m(*LUJIAZUI, *THE_BUND)
    assert rules.distance_m(0, 179.9, 0, -179.9) == pytest.approx(22_239, abs=5)


def test_fields_are_checked_and_tidied():
    f = rules.fields("  静安 店 ", "南京西路 1 号", 31.2, 121.4, "021-6321 1234", "10:00-22:00", True)
    assert (f.name, f.phone, f.pickup) == ("静安 店", "021-6321 1234", True)
    for phone in ("95555", "400-820-8820", "+86 138 0013 8000", "13800138000", "(021) 63211234"):
        assert rules.check_phone(phone) == phone
    for phone in ("", "1234", "call me", "021-6321-1234-5678-9012-3456", "１３８００１３８０００", "+-1234", "12345-"):
        with pytest.raises(errors.InvalidRequest):
            rules.check_phone(phone)
    for lat, lng in ((91, 0), (0, 181), (float("nan"), 0), (0, float("inf")), (None, 0), ("x", 1)):
        with pytest.raises(errors.InvalidRequest):
            rules.check_location(lat, lng)
    with pytest.raises(errors.InvalidRequest):
        rules.fields("", "a", 0, 0, "95555", "10-22", True)
    with pytest.raises(errors.InvalidRequest):
        rules.fields("a", "a", 0, 0, "95555", "x" * 61, True)


def test_an_edit_at_a_version_and_the_nearest_first():
    f = rules.fields("A", "addr", *PEOPLES_SQUARE, "95555", "9-21", True)
    store = rules.new("st_1", f, NOW)
    edited = rules.edit(store, rules.fields("B", "addr", *THE_BUND, "95555", "9-21", False), NOW, 1)
    assert (edited.name, edited.version, edited.pickup) == ("B", 2, False)
    with pytest.raises(errors.StoreChanged):
        rules.edit(edited, f, NOW, 1)
    assert rules.edit(edited, f, NOW, None).version == 3
    far = rules.new("st_2", rules.fields("C", "addr", *LUJIAZUI, "95555", "9-21", True), NOW)
    order = rules.nearest_first([far, edited, store], *PEOPLES_SQUARE)
    assert [(s.store_id, s.version, d) for s, d in order][0] == ("st_1", 1, 0)
    assert [s.store_id for s, _ in order][2] == "st_2"
    with pytest.raises(errors.PickupNotOffered):
        rules.check_pickup(edited)
    with pytest.raises(errors.NotFound):
        rules.check_pickup(None)
    assert rules.check_pickup(store) is store


# -- the service on fakes ----------------------------------------------------------------------

def _body(name="人民广场店", at=PEOPLES_SQUARE, pickup=True, version=None):
    return SimpleNamespace(name=name, address="上海市黄浦区人民大道 1 号", location=SimpleNamespace(lat=at[0], lng=at[1]),
                           phone="021-6321 1234", hours="10:00-22:00", pickup=pickup, version=version)


class _Operators:
    def __init__(self, *names):
        self.known = {n: SimpleNamespace(name=n, disabled=False) for n in names}

    def get(self, name):
        return self.known.get(name)


class _Distributors:
    def __init__(self, *ids):
        self.ids = set(ids)

    def get(self, user_id, consistent=False):
        return SimpleNamespace(user_id=user_id) if user_id in self.ids else None


@pytest.fixture
def service():
    memory = MemoryStore()
    return StoreService(stores=MemoryStoreRepository(memory), operators=_Operators("clerk1", "clerk2"),
                        distributors=_Distributors("u_guide"), clock=FakeClock(), new_tx=memory.tx)


def test_create_edit_and_list(service):
    a = service.create(_body())
    assert a["version"] == 1 and a["location"] == {"lat": PEOPLES_SQUARE[0], "lng": PEOPLES_SQUARE[1]}
    b = service.create(_body("外滩店", THE_BUND))
    edited = service.edit(a["id"], _body("人民广场旗舰店", version=1))
    assert edited["version"] == 2 and edited["name"] == "人民广场旗舰店"
    with pytest.raises(errors.StoreChanged):
        service.edit(a["id"], _body("stale", version=1))
    assert service.edit(a["id"], _body("last writer"))["version"] == 3  # no version: last writer wins
    with pytest.raises(errors.NotFound):
        service.edit("st_missing", _body())
    rows, _ = service.list(10, None)
    assert {r["id"] for r in rows} == {a["id"], b["id"]}


def test_nearest_first_with_distances_by_name_without(service):
    service.create(_body("陆家嘴店", LUJIAZUI))
    service.create(_body("外滩店", THE_BUND))
    service.create(_body("人民广场店", PEOPLES_SQUARE))
    rows, nxt = service.nearby(*THE_BUND, 10, None)
    assert [r["name"] for r in rows] == ["外滩店", "陆家嘴店", "人民广场店"] and nxt is None
    assert rows[0]["distance_m"] == 0 and all(isinstance(r["distance_m"], int) for r in rows)
    first, cursor = service.nearby(*THE_BUND, 2, None)
    assert [r["name"] for r in first] == ["外滩店", "陆家嘴店"] and cursor == {"offset": 2}
    assert [r["name"] for r in service.nearby(*THE_BUND, 2, cursor)[0]] == ["人民广场店"]
    by_name, _ = service.nearby(None, None, 10, None)
    assert [r["name"] for r in by_name] == sorted(r["name"] for r in by_name)
    assert "distance_m" not in by_name[0]
    for lat, lng in ((91.0, 0.0), (None, 121.0), (31.0, None), (float("nan"), 1.0)):
        with pytest.raises(errors.InvalidRequest):
            service.nearby(lat, lng, 10, None)


def test_staff_one_place_each_and_moving_says_so(service):
    a, b = service.create(_body())["id"], service.create(_body("外滩店", THE_BUND))["id"]
    added = service.add_staff(a, operator_id="clerk1", user_id=None, by="owner")
    assert added["operator_id"] == "clerk1" and added["moved_from"] is None
    assert service.add_staff(a, operator_id="clerk1", user_id=None, by="owner")["moved_from"] is None  # again: same
    service.add_staff(a, operator_id=None, user_id="u_guide", by="owner")
    assert service.staff_of_operator("clerk1") == a and service.store_of_guide("u_guide") == a
    assert [s["kind"] for s in service.staff(a)] == ["operator", "guide"]
    moved = service.add_staff(b, operator_id=None, user_id="u_guide", by="owner")
    assert moved["moved_from"] == a and service.store_of_guide("u_guide") == b
    assert [s.get("user_id") for s in service.staff(b)] == ["u_guide"]
    with pytest.raises(errors.UnknownOperator):
        service.add_staff(a, operator_id="nobody", user_id=None, by="owner")
    with pytest.raises(errors.NotADistributor):
        service.add_staff(a, operator_id=None, user_id="u_shopper", by="owner")
    with pytest.raises(errors.InvalidRequest):
        service.add_staff(a, operator_id="clerk1", user_id="u_guide", by="owner")
    with pytest.raises(errors.NotFound):
        service.remove_staff(a, "guide", "u_guide")  # moved away: not staff here
    service.remove_staff(b, "guide", "u_guide")
    assert service.store_of_guide("u_guide") is None
    with pytest.raises(errors.NotFound):
        service.remove_staff(a, "nonsense", "clerk1")


def test_two_stores_taking_one_guide_at_once_leave_one_place(service):
    stores = [service.create(_body(f"店{i}"))["id"] for i in range(6)]
    barrier = threading.Barrier(len(stores))
    answers = []

    def take(store_id):
        barrier.wait()
        answers.append(service.add_staff(store_id, operator_id=None, user_id="u_guide", by="owner"))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = service.store_of_guide("u_guide")
    assert final in stores and sum(len(service.staff(s)) for s in stores) == 1


# -- the store figures' rules ------------------------------------------------------------------

def _paid_order(**kw):
    from tests.unit.test_analytics_rules import _order

    return _order(**kw)


def test_a_sale_moves_its_stores_month_once():
    from layers.domain import analytics as a

    def store_incs(order, guide_store=None):
        fact = a.sale_fact("e1", order, guide_store=guide_store)
        fact = a.Fact.from_message(fact.to_message())  # through the queue
        return {(i.key.period, i.key.subject): i.add for i in a.increments(fact, a.Positions(1, 1, 1))
                if i.key.kind == a.STORE}

    pickup = {"kind": "pickup", "store_id": "st_a"}
    # 23:59:59 Beijing on 30 November: November's
    month = "2026-11"
    at = "2026-11-30T15:59:59Z"
    assert store_incs(_paid_order(paid_at=at)) == {}  # delivered, no guide: no store's
    assert store_incs(_paid_order(paid_at=at, delivery=pickup)) == {(month, "st_a"): {"pickup_orders": 1, "gmv": 1000}}
    assert store_incs(_paid_order(paid_at=at, distributor_id="g1"), "st_b") == {
        (month, "st_b"): {"guide_sales": 1000, "gmv": 1000}}
    # sold by st_b's guide, collected at st_a: st_a's order (gmv), st_b's guide's sale
    assert store_incs(_paid_order(paid_at=at, distributor_id="g1", delivery=pickup), "st_b") == {
        (month, "st_a"): {"pickup_orders": 1, "gmv": 1000}, (month, "st_b"): {"guide_sales": 1000}}
    assert store_incs(_paid_order(paid_at=at, distributor_id="g1", delivery=pickup), "st_a") == {
        (month, "st_a"): {"pickup_orders": 1, "guide_sales": 1000, "gmv": 1000}}
    assert store_incs(_paid_order(paid_at="2026-11-30T16:00:00Z", delivery=pickup)) == {
        ("2026-12", "st_a"): {"pickup_orders": 1, "gmv": 1000}}
    # a guide in no store, an express delivery: nothing
    assert store_incs(_paid_order(distributor_id="g1", delivery={"kind": "express"})) == {}
    assert a.store_row({"subject": "st_a", "gmv": 5}) == {"store_id": "st_a", "pickup_orders": 0, "guide_sales": 0,
                                                          "gmv": 5}
