"""Subscription-message consents and reminders sent.

- Consent credits: pk `USER#<user_id>`, sk `SUBSCRIBE#<template_id>`, `credits` (one
  message per "accept" the shopper gave in wx.requestSubscribeMessage).
- A reminder sent (or tried): pk `REMINDED#<kind>#<subject_id>`, sk `USER#<user_id>`.
  Its conditional put and the credit's conditional decrement are one transaction, taken
  before the message is sent: a reminder goes at most once, and never without consent.
- Flash-sale start reminders asked for: pk `REMIND#FLASH#<sale_id>`, sk `USER#<user_id>`,
  and gsi2 `FLASH_REMINDERS` / `<starts_at>#<sale_id>#<user_id>` to find them in time.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from layers.domain.reminders import Claim, Consent, FlashReminderRequest, ReminderStatus
from layers.storage.base import Queued, ShopModel
from layers.storage.errors import condition_failed

FLASH_REMINDERS = "FLASH_REMINDERS"


class ConsentItem(ShopModel):
    template_id = UnicodeAttribute()
    credits = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


class ReminderSent(ShopModel):
    kind = UnicodeAttribute()
    status = UnicodeAttribute()  # SENDING | SENT | REFUSED | FAILED
    at = UnicodeAttribute()


class FlashReminderItem(Queued):
    sale_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()


def consent_key(user_id: str, template_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"SUBSCRIBE#{template_id}"


def sent_key(kind: str, subject_id: str, user_id: str) -> tuple[str, str]:
    return f"REMINDED#{kind}#{subject_id}", f"USER#{user_id}"


def flash_request_key(sale_id: str, user_id: str) -> tuple[str, str]:
    return f"REMIND#FLASH#{sale_id}", f"USER#{user_id}"


class DynamoReminderRepository:
    """layers.domain.reminders.ReminderRepository."""

    def add_credits(self, user_id: str, template_ids: list[str], now: str) -> None:
        for template_id in template_ids:
            ConsentItem(*consent_key(user_id, template_id)).update(actions=[
                ConsentItem.template_id.set(template_id), ConsentItem.credits.add(1),
                ConsentItem.updated_at.set(now)])

    def consents(self, user_id: str) -> list[Consent]:
        return [Consent(user_id, c.template_id, int(c.credits))
                for c in ConsentItem.query(f"USER#{user_id}", ConsentItem.sk.startswith("SUBSCRIBE#"))]

    def request_flash_reminder(self, request: FlashReminderRequest) -> None:
        FlashReminderItem(*flash_request_key(request.sale_id, request.user_id), sale_id=request.sale_id,
                          user_id=request.user_id, starts_at=request.starts_at, gsi2pk=FLASH_REMINDERS,
                          gsi2sk=f"{request.starts_at}#{request.sale_id}#{request.user_id}").save()

    def flash_requests_starting(self, until_iso: str, limit: int = 1000) -> list[FlashReminderRequest]:
        return [FlashReminderRequest(r.sale_id, r.user_id, r.starts_at)
                for r in FlashReminderItem.gsi2.query(
                    FLASH_REMINDERS, FlashReminderItem.gsi2sk <= f"{until_iso}#~", limit=limit)]

    def flash_request_done(self, request: FlashReminderRequest) -> None:
        FlashReminderItem(*flash_request_key(request.sale_id, request.user_id)).update(
            actions=[FlashReminderItem.gsi2pk.remove(), FlashReminderItem.gsi2sk.remove()])

    def stage_claim(self, tx, claim: Claim, now: str, on_already_sent, on_no_consent) -> None:
        marker = ReminderSent(*sent_key(claim.kind, claim.subject_id, claim.user_id), kind=claim.kind,
                              status=ReminderStatus.SENDING.value, at=now)
        tx.put(marker, condition=ReminderSent.pk.does_not_exist(), on_fail=on_already_sent)
        tx.update(ConsentItem(*consent_key(claim.user_id, claim.template_id)),
                  actions=[ConsentItem.credits.add(-1)],
                  condition=ConsentItem.credits > 0, on_fail=on_no_consent)

    def finish(self, claim: Claim, status: str) -> None:
        marker = ReminderSent(*sent_key(claim.kind, claim.subject_id, claim.user_id))
        try:
            marker.update(actions=[ReminderSent.status.set(status)],
                          condition=ReminderSent.status == ReminderStatus.SENDING.value)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            # Already finished: the claim was ours alone, so nothing else to do.

    # -- a message WeChat refused for its data keeps the consent credit --------------

    def finish_returning_credit(self, claim: Claim, status: str) -> None:
        from layers.storage.tx import Tx

        class _Finished(Exception):
            pass

        tx = Tx()
        tx.update(ReminderSent(*sent_key(claim.kind, claim.subject_id, claim.user_id)),
                  actions=[ReminderSent.status.set(status)],
                  condition=ReminderSent.status == ReminderStatus.SENDING.value, on_fail=_Finished)
        tx.update(ConsentItem(*consent_key(claim.user_id, claim.template_id)), actions=[ConsentItem.credits.add(1)])
        try:
            tx.commit()
        except _Finished:
            pass  # already finished: the credit went back then, or was never ours to return
