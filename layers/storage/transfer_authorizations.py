"""Distributors' confirmation-free receipt authorizations: pk `USER#<user_id>`, sk
`TRANSFER_AUTH` (layers/domain/transfer_authorization.py)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError

from layers.domain import transfer_authorization as domain
from layers.domain.transfer_authorization import TransferAuthorization
from layers.storage.base import ShopModel
from layers.storage.errors import condition_failed


class TransferAuthItem(ShopModel):
    user_id = UnicodeAttribute()
    out_authorization_no = UnicodeAttribute()
    state = UnicodeAttribute()
    authorization_id = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()


def _key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "TRANSFER_AUTH"


class DynamoTransferAuthorizations:
    """`layers.domain.transfer_authorization.TransferAuthorizationRepository` on the shop table."""

    def get(self, user_id: str) -> TransferAuthorization | None:
        try:
            i = TransferAuthItem.get(*_key(user_id), consistent_read=True)
        except TransferAuthItem.DoesNotExist:
            return None
        return TransferAuthorization(user_id=i.user_id, out_authorization_no=i.out_authorization_no,
                                     state=i.state, authorization_id=i.authorization_id, updated_at=i.updated_at)

    def save(self, a: TransferAuthorization) -> None:
        item = TransferAuthItem(*_key(a.user_id), user_id=a.user_id, out_authorization_no=a.out_authorization_no,
                                state=str(a.state), authorization_id=a.authorization_id, updated_at=a.updated_at)
        condition = None
        if a.state == domain.WAIT_USER_CONFIRM:
            # never over a granted one, nor over a newer round
            condition = TransferAuthItem.pk.does_not_exist() | (
                (TransferAuthItem.state != str(domain.TAKING_EFFECT))
                & (TransferAuthItem.out_authorization_no <= a.out_authorization_no))
        try:
            item.save(condition=condition)
        except PutError as exc:
            if not condition_failed(exc):
                raise
