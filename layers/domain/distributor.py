"""Distributors and what surrounds them: commission templates (their tiers), managers and
their groups, share tokens and customer bindings (`layers/domain/attribution.Binding`).

- Share tokens are random (128 bits) and stored, not HMACs: the token has to lead to the
  sharer anyway, and a user id plus a MAC does not fit the 32 characters of a wxacode
  scene, so a lookup is needed either way; a stored token also carries its product and
  can be listed or revoked. A token that is not stored means nothing.
- A binding is last touch: a later touch overwrites it, an older (delayed) one never
  does (`attribution.replaces`); the repository writes it conditioned on that.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Protocol

from layers.domain.attribution import Binding

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    tiers: tuple[dict, ...]  # commission.Tier.as_dict(), lowest level first
    created_at: str


@dataclass(frozen=True)
class Distributor:
    user_id: str  # the distributor id IS the shopper's user id
    template_id: str
    created_at: str
    updated_at: str
    manager_id: str | None = None


@dataclass(frozen=True)
class Manager:
    user_id: str
    created_at: str
    name: str | None = None
    template_id: str | None = None  # the template the guides they add get


@dataclass(frozen=True)
class Share:
    token: str
    distributor_id: str
    created_at: str
    product_id: str | None = None


def new_template_id() -> str:
    return f"ct_{uuid.uuid4().hex[:20]}"


def new_share_token() -> str:
    """128 random bits, 22 characters of [A-Za-z0-9_-] (all allowed in a wxacode scene)."""
    return secrets.token_urlsafe(16)


def well_formed_token(token: str | None) -> bool:
    return bool(token) and TOKEN_RE.match(token) is not None


class DistributorRepository(Protocol):
    def get_template(self, template_id: str) -> Template | None: ...

    def create_template(self, template: Template) -> None: ...

    def list_templates(self, limit: int, cursor: dict | None) -> tuple[list[Template], dict | None]: ...

    def get(self, user_id: str, consistent: bool = False) -> Distributor | None: ...

    def get_many(self, user_ids: list[str]) -> dict[str, Distributor]: ...

    def list(self, limit: int, cursor: dict | None) -> tuple[list[Distributor], dict | None]: ...

    def stage_save(self, tx, distributor: Distributor, previous: Distributor | None, on_stale=None) -> None:
        """Create or change a distributor, and move their group membership with it. With
        `on_stale`: only if the stored distributor is still `previous` (absent for None),
        else `on_stale()`; without, whatever is stored (an operator's say)."""

    def get_manager(self, user_id: str) -> Manager | None: ...

    def upsert_manager(self, user_id: str, name: str | None, now: str, template_id: str | None = None) -> Manager:
        """Create the manager (or rename them, or give them a template); the first
        created_at stays, and a name or template not given stays as it was."""

    def list_managers(self, limit: int, cursor: dict | None) -> tuple[list[Manager], dict | None]:
        """The managers, newest first (the console's managers page)."""

    def group(self, manager_id: str, limit: int, cursor: dict | None) -> tuple[list[str], dict | None]:
        """The distributor ids of a manager's group (read consistently)."""

    def create_share(self, share: Share) -> None: ...

    def get_share(self, token: str) -> Share | None: ...

    def get_binding(self, customer_id: str) -> Binding | None: ...

    def put_binding(self, binding: Binding, ttl_epoch: int) -> bool:
        """Store the binding unless the stored one is from a later touch (then False),
        with the guide's record of the customer in the same write, and the previous
        guide's record ended when the customer moves (layers/domain/guide_customers.py)."""

    def count_customers(self, distributor_id: str, now: str) -> int:
        """Customers bound to the distributor now (bindings not expired)."""


class Products(Protocol):
    def get_product(self, product_id: str):
        """The product (with `active`), or None."""
