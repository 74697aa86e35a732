"""One DynamoDB transaction built from parts, each part naming the domain error its
condition stands for.

pynamodb's `TransactWriteError.cancellation_reasons` lists one reason per operation in
the order they were added; `Tx` keeps that order so a failed condition becomes the
domain error of the part that failed (`SoldOut`, `CouponNotApplicable`, ...), never a
500. A `TransactionConflict` (another transaction touched the same item) is retried
with jitter: it means "try again", not "no".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from layers.domain import errors
from layers.storage.base import ShopModel, shared_connection


def connection() -> Connection:
    return shared_connection()  # the models' own: one botocore client per container


_BATCH_ROUNDS = 5  # unprocessed keys (throttling) are asked again, a few times


def batch_get_raw(keys: list[tuple[str, str]], *, consistent: bool) -> dict[tuple[str, str], dict]:
    """Raw items of several types by (pk, sk), absent keys absent: one BatchGetItem per 100
    keys. pynamodb's `Model.batch_get` reads one model; the reads that join items of many
    types in one round trip (an order's placement, a page of a guide's customers) go to the
    connection and let each caller build its models with `from_raw_data`."""
    table = ShopModel.Meta.table_name
    found: dict[tuple[str, str], dict] = {}
    for start in range(0, len(keys), 100):
        request = {table: {"ConsistentRead": consistent,
                           "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys[start:start + 100]]}}
        for attempt in range(_BATCH_ROUNDS):
            if attempt:
                time.sleep(0.01 * 2 ** attempt)
            data = connection().dispatch("BatchGetItem", {"RequestItems": request})
            for raw in data.get("Responses", {}).get(table, []):
                found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
            request = data.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise errors.RateLimited("busy; try again in a moment")  # DynamoDB kept throttling this read
    return found


class TransactionConflicted(errors.RateLimited):
    """Still conflicting after retries: too many writers on one item right now. Nothing
    was written; the client is told to retry (429), which is the truth, not a 5xx."""


_SEND_ORDER = {"condition_check": 0, "delete": 1, "save": 2, "update": 3}


@dataclass
class _Op:
    kind: str
    args: tuple
    kwargs: dict
    on_fail: Callable[[], Exception] | None


@dataclass
class Tx:
    ops: list[_Op] = field(default_factory=list)

    def put(self, item: Model, condition: Any = None, on_fail: Callable[[], Exception] | None = None) -> Tx:
        self.ops.append(_Op("save", (item,), {"condition": condition}, on_fail))
        return self

    def update(self, item: Model, actions: list, condition: Any = None,
               on_fail: Callable[[], Exception] | None = None) -> Tx:
        self.ops.append(_Op("update", (item,), {"actions": actions, "condition": condition}, on_fail))
        return self

    def delete(self, item: Model, condition: Any = None, on_fail: Callable[[], Exception] | None = None) -> Tx:
        self.ops.append(_Op("delete", (item,), {"condition": condition}, on_fail))
        return self

    def check(self, model: type[Model], hash_key: str, range_key: str, condition: Any,
              on_fail: Callable[[], Exception] | None = None) -> Tx:
        self.ops.append(_Op("condition_check", (model, hash_key), {"range_key": range_key, "condition": condition}, on_fail))
        return self

    def commit(self, token: str | None = None, attempts: int = 10) -> None:
        """Apply every part or none. Raises the failed part's domain error."""
        if not self.ops:
            return
        for attempt in range(attempts):
            try:
                kwargs = {"connection": connection()}
                if token:
                    kwargs["client_request_token"] = token
                with TransactWrite(**kwargs) as tw:
                    for op in self.ops:
                        getattr(tw, op.kind)(*op.args, **op.kwargs)
                return
            except TransactWriteError as exc:
                reasons = exc.cancellation_reasons or []
                # pynamodb sends condition checks, deletes, puts, then updates; the
                # reasons come back in that order.
                sent = sorted(self.ops, key=lambda o: _SEND_ORDER[o.kind])
                for op, reason in zip(sent, reasons, strict=False):
                    if reason is not None and reason.code == "ConditionalCheckFailed":
                        if op.on_fail is not None:
                            raise op.on_fail() from exc
                        raise
                conflicted = any(r is not None and r.code == "TransactionConflict" for r in reasons)
                if not conflicted and exc.cause_response_code not in (
                    "TransactionConflictException", "TransactionInProgressException",
                    "ThrottlingException", "ProvisionedThroughputExceededException",
                ):
                    raise
                if attempt == attempts - 1:
                    raise TransactionConflicted("busy; try again in a moment") from exc
                time.sleep(random.uniform(0.5, 1.0) * min(0.2, 0.01 * 2 ** attempt))
