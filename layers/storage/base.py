"""Where every pynamodb model of the shop lives: one table, keyed pk/sk.

The table's definition (keys, GSIs, TTL) is infra/resources.json; this module only
points models at it. Every model subclasses `ShopModel`, sets a key prefix scheme in
its docstring, and stores timestamps as RFC 3339 strings or epoch seconds (TTL).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.connection.base import MetaTable
from pynamodb.exceptions import TableError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from layers import aws
from layers.config import settings


class _Meta:
    # Read once per container: the process environment is fixed at start.
    table_name = settings().table_name
    region = settings().aws_region
    host = settings().dynamodb_endpoint
    # Lambda's short timeouts: fail fast and let the caller's retry policy decide.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 2


class Gsi1(GlobalSecondaryIndex):
    """Lists by owner: a user's orders, coupons, a product list, ..."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    """Sparse work queues: open orders by expiry, settleable commissions by due time, ..."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


# -- analytics --
class Gsi3(GlobalSecondaryIndex):
    """Sorted by a number: rankings by amount (`ANALYTICS#RANK#...` / the amount), orders
    by paid time (`PAID#<day>#<nn>` / epoch seconds). Sparse: only items that set both."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3n = NumberAttribute(range_key=True)


class _SharedSessionConnection(Connection):
    """pynamodb's Connection on the container's one botocore session (layers/aws.py)."""

    @property
    def session(self):
        return aws.session()

    @property
    def client(self):
        if self._client is not None:
            return super().client  # the hot path: no lock once the client exists
        with aws.creating():  # botocore's client creation is not thread-safe
            return aws.track(super().client)


_shared: Connection | None = None


def shared_connection() -> Connection:
    """One pynamodb Connection for every model and transaction of the container. pynamodb
    makes one per model class, each with its own botocore session and client; creating a
    client loads the service model and endpoint rules again (tens of ms each on a cold
    start, several per request that touches several item types)."""
    global _shared
    if _shared is None:
        _shared = _SharedSessionConnection(region=_Meta.region, host=_Meta.host,
                             connect_timeout_seconds=_Meta.connect_timeout_seconds,
                             read_timeout_seconds=_Meta.read_timeout_seconds,
                             max_retry_attempts=_Meta.max_retry_attempts)
    return _shared


def prime_connection() -> None:
    """For a container about to be snapshotted (SnapStart): every model's connection
    (pynamodb makes one per model class on its first use, reading its settings each
    time), the shared connection's client, and the operations of an order's path
    (placement's read, the order's transaction, the prepay id's update; single reads and
    queries) made once offline with made-up keys (layers/aws.py `prime`): nothing is
    sent, nothing written."""
    seen: set[type] = set()
    models: list[type] = [ShopModel]
    while models:  # every model imported so far
        model = models.pop()
        if model not in seen:
            seen.add(model)
            model._get_connection()
            models += model.__subclasses__()
    table = _Meta.table_name
    key = {"pk": {"S": "PRIME"}, "sk": {"S": "PRIME"}}
    item = {**key, "n": {"N": "1"}, "items": {"S": "[]"}, "flag": {"BOOL": True}, "none": {"NULL": True}}
    condition = {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": "pk"}}
    aws.prime(shared_connection().client, {
        "BatchGetItem": {"RequestItems": {table: {"ConsistentRead": True, "Keys": [key]}}},
        "TransactWriteItems": {"TransactItems": [
            {"Put": {"TableName": table, "Item": item, **condition}},
            {"Update": {"TableName": table, "Key": key, "UpdateExpression": "ADD #n :one",
                        "ExpressionAttributeNames": {"#n": "n"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": table, "Key": key, **condition}}]},
        "UpdateItem": {"TableName": table, "Key": key, "UpdateExpression": "SET #n = :one",
                       "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":one": {"N": "1"}},
                       "ReturnValues": "ALL_NEW"},
        "GetItem": {"TableName": table, "Key": key, "ConsistentRead": True},
        "Query": {"TableName": table, "IndexName": "gsi1", "KeyConditionExpression": "#p = :p",
                  "ExpressionAttributeNames": {"#p": "gsi1pk"}, "ExpressionAttributeValues": {":p": {"S": "PRIME"}},
                  "Limit": 1},
    })


def _adopt(meta: MetaTable) -> Connection:
    """The shared connection, knowing `meta`'s indexes too (each model class declares only
    the indexes it uses; the table has them all)."""
    shared = shared_connection()
    try:
        known = shared.get_meta_table(meta.table_name)
    except TableError:  # not added yet
        shared.add_meta_table(MetaTable(dict(meta.data)))
        return shared
    for section, key in (("GlobalSecondaryIndexes", "IndexName"), ("LocalSecondaryIndexes", "IndexName"),
                         ("AttributeDefinitions", "AttributeName")):
        have = {entry[key] for entry in known.data.get(section) or []}
        known.data[section] = [*(known.data.get(section) or []),
                               *(e for e in meta.data.get(section) or [] if e[key] not in have)]
    return shared


class ShopModel(Model):
    """Base of every item in the shop table."""

    class Meta(_Meta):
        pass

    @classmethod
    def _get_connection(cls):
        fresh = cls._connection is None or cls._connection.table_name != cls.Meta.table_name
        table = super()._get_connection()
        if fresh:
            table.connection = _adopt(table.connection.get_meta_table(cls.Meta.table_name))
        return table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    # Epoch seconds; DynamoDB's TTL deletes the item some time after (idempotency records).
    ttl = NumberAttribute(null=True)


class Listed(ShopModel):
    """An item that also appears in a gsi1 list (pynamodb copies the index per subclass)."""

    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)


class Queued(ShopModel):
    """An item that sits in a gsi2 work queue while it waits for something."""

    gsi2 = Gsi2()
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)


class ListedAndQueued(Listed, Queued):
    pass


# -- analytics --
class Numbered(ShopModel):
    """An item that also appears in gsi3, sorted by a number."""

    gsi3 = Gsi3()
    gsi3pk = UnicodeAttribute(null=True)
    gsi3n = NumberAttribute(null=True)


def values_of(item: Model, names, ints=frozenset()) -> dict:
    """An item's attributes `names` as a domain dataclass takes them: the `ints` as int
    (a number read back may be a float), None left as None. The other half of `changed`."""
    values = {}
    for name in names:
        value = getattr(item, name)
        values[name] = int(value) if name in ints and value is not None else value
    return values


def changed(model: type[Model], before, after, names, encode=None) -> list:
    """Update actions for the fields of `after` that differ from `before`: SET the new
    value, or REMOVE the attribute where it became None. `encode(name, value)` turns a
    domain value into what the attribute stores."""
    actions = []
    for name in names:
        new = getattr(after, name)
        if getattr(before, name) == new:
            continue
        value = encode(name, new) if encode else new
        attribute = getattr(model, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def requeued(model: type[Queued], before: tuple[str, str] | None, after: tuple[str, str] | None) -> list:
    """Update actions that move an item between gsi2 work queues (`(gsi2pk, gsi2sk)`, or
    None for no queue)."""
    if after == before:
        return []
    if after is None:
        return [model.gsi2pk.remove(), model.gsi2sk.remove()]
    return [model.gsi2pk.set(after[0]), model.gsi2sk.set(after[1])]
