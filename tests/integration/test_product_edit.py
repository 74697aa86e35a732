"""A product edit writes only the SKUs it changes, on DynamoDB Local: a product of 100
SKUs is created and edited (one transaction per at most 100 items: DynamoDB's limit)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import create_product


@pytest.fixture
def transactions(monkeypatch):
    """The item count of every transaction committed."""
    from layers.storage import tx as tx_module

    sizes = []
    real = tx_module.Tx.commit

    def counted(self, *args, **kwargs):
        sizes.append(len(self.ops))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tx_module.Tx, "commit", counted)
    return sizes


def _put(client, admin_headers, product_id, payload):
    return client.http.put(f"/admin/products/{product_id}", headers=admin_headers, body=json.dumps(payload))


def test_a_product_of_100_skus_is_created_and_edited_writing_only_what_changed(client, admin_headers, transactions):
    skus = [{"price": 100 + n, "stock": 5, "spec": {"号": str(n)}} for n in range(100)]
    product = create_product(client, admin_headers, title="百号袜", skus=skus)
    assert len(product["skus"]) == 100 and max(transactions) <= 100
    sent = [{"id": s["id"], "price": s["price"], "stock": s["stock"], "spec": s["spec"]} for s in product["skus"]]

    transactions.clear()
    sent[7] = {**sent[7], "price": 999}
    edited = _put(client, admin_headers, product["id"], {"title": "百号袜", "category": "数码", "skus": sent})
    assert edited.status_code == 200, edited.body
    assert transactions == [3]  # the one SKU, the product and its catalog.changed event
    assert [s["price"] for s in edited.json_body["skus"]][7] == 999

    transactions.clear()
    sent[3] = {"id": sent[3]["id"], "price": sent[3]["price"], "stock_delta": -2, "spec": sent[3]["spec"]}
    renamed = _put(client, admin_headers, product["id"], {"title": "百号好袜", "category": "数码", "skus": sent})
    assert renamed.status_code == 200, renamed.body
    assert sum(transactions) == 100 + 1 + 1 + 1 and max(transactions) <= 100  # every SKU, the entry, the product, its event
    assert {s["id"]: s["stock"] for s in renamed.json_body["skus"]} == {
        s["id"]: (3 if n == 3 else 5) for n, s in enumerate(product["skus"])}

    transactions.clear()
    kept = [{"id": s["id"], "price": s["price"], "spec": s["spec"]} for s in sent[:10]]
    shrunk = _put(client, admin_headers, product["id"], {"title": "百号好袜", "category": "数码", "skus": kept})
    assert shrunk.status_code == 200, shrunk.body
    assert len(shrunk.json_body["skus"]) == 10 and sum(transactions) == 90 + 1 + 1  # 90 retired, the product, its event
    transactions.clear()
    again = _put(client, admin_headers, product["id"], {"title": "百号好袜", "category": "数码", "skus": kept})
    assert again.status_code == 200 and transactions == [2]  # retired SKUs are not written again: the product and its event


def test_stock_sent_back_that_moved_meanwhile_is_409_and_writes_nothing(client, admin_headers, transactions):
    product = create_product(client, admin_headers, stock=8)
    sku = product["skus"][0]
    from functions import wiring

    wiring.catalog().adjust_stock(sku["id"], -1, "损耗")
    transactions.clear()
    stale = _put(client, admin_headers, product["id"], {"title": product["title"], "category": "数码", "skus": [
        {"id": sku["id"], "price": sku["price"], "stock": 8, "spec": sku["spec"]}]})
    assert stale.status_code == 409 and stale.json_body["error"]["code"] == "STOCK_CHANGED"
    assert transactions == []
