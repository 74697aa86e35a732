"""The promotion pool (推广商品池): the products the shop's guides may share.

- The pool is either every product (`all`, also what a shop that never chose has) or a
  list of product ids the operator picked, kept in the order given, duplicates dropped,
  at most MAX_PRODUCTS (one stored item stays far below DynamoDB's 400 KB, and a guide's
  list pages through it by position).
- A share of a product outside the pool is refused (422 NOT_IN_POOL); a share of the
  shop itself (no product) always goes.
- The pool governs SHARING only, not earning: an order placed through a share made while
  its product was in the pool still earns commission after the product leaves the pool
  (the share was valid when the guide made it, and the buyer cannot tell), and so does an
  order counted for a guide through a customer's binding, whatever the product. Taking a
  product out of the pool stops new shares of it; it never takes back money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from layers.domain import errors

MAX_PRODUCTS = 2000


@dataclass(frozen=True)
class Pool:
    all: bool
    product_ids: tuple[str, ...] = ()
    updated_at: str | None = None
    # Bumped by every write, each conditioned on the version it was decided from: the
    # console's "add one"/"take one out" read the list and change it, and two operators
    # doing so at once must not lose one of the changes. 0: never stored.
    version: int = 0
    _members: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_members", frozenset(self.product_ids))

    def allows(self, product_id: str) -> bool:
        return self.all or product_id in self._members


EVERYTHING = Pool(all=True)


def chosen(product_ids: list[str]) -> tuple[str, ...]:
    """The ids an operator picked: duplicates dropped (first place kept), at most
    MAX_PRODUCTS of them (else 400), none blank."""
    unique = tuple(dict.fromkeys(product_ids))
    if len(unique) > MAX_PRODUCTS:
        raise errors.InvalidRequest(f"product_ids: at most {MAX_PRODUCTS} products "
                                    f"({len(unique)} given); choose all products instead")
    return unique


def check_share(pool: Pool, product_id: str | None) -> None:
    """A share of the shop always goes; a share of a product only inside the pool."""
    if product_id is not None and not pool.allows(product_id):
        raise errors.NotInPool("this product is not in the shop's promotion pool")


def succeeding(current: Pool | None, *, all: bool, product_ids: tuple[str, ...] = (),  # noqa: A002
               updated_at: str) -> Pool:
    """The pool that replaces `current` (None: never stored), one version on."""
    return Pool(all=all, product_ids=() if all else product_ids, updated_at=updated_at,
                version=(current.version if current else 0) + 1)


class PoolRepository(Protocol):
    def get(self, fresh: bool = False) -> Pool | None:
        """The stored pool (None: never chosen, that is every product)."""
        ...

    def put(self, pool: Pool, on_stale) -> None:
        """Store `pool` if the stored version is still `pool.version - 1` (absent for 1);
        else raise `on_stale()`."""
        ...
