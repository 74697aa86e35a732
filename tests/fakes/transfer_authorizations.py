"""In-memory twin of layers/storage/transfer_authorizations.py."""

from __future__ import annotations

from layers.domain import transfer_authorization as domain
from layers.domain.transfer_authorization import TransferAuthorization
from tests.fakes.memory import MemoryStore


class MemoryTransferAuthorizations:
    def __init__(self, store: MemoryStore):
        self.store = store

    def get(self, user_id: str) -> TransferAuthorization | None:
        return self.store.get(("transfer_auth", user_id))

    def save(self, a: TransferAuthorization) -> None:
        with self.store.lock:
            stored = self.store.items.get(("transfer_auth", a.user_id))
            if (a.state == domain.WAIT_USER_CONFIRM and stored is not None
                    and (stored.state == domain.TAKING_EFFECT or stored.out_authorization_no > a.out_authorization_no)):
                return
            self.store.items[("transfer_auth", a.user_id)] = a
