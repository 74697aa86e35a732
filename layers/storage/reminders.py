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

from layers.storage.base import Queued, ShopModel


class ConsentItem(ShopModel):
    template_id = UnicodeAttribute()
    credits = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


class ReminderSent(ShopModel):
    kind = UnicodeAttribute()
    status = UnicodeAttribute()  # SENDING | SENT | REFUSED | FAILED
    at = UnicodeAttribute()


class FlashReminderRequest(Queued):
    sale_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()


def consent_key(user_id: str, template_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"SUBSCRIBE#{template_id}"


def consents(user_id: str) -> list[ConsentItem]:
    return list(ConsentItem.query(f"USER#{user_id}", ConsentItem.sk.startswith("SUBSCRIBE#")))


def sent_key(kind: str, subject_id: str, user_id: str) -> tuple[str, str]:
    return f"REMINDED#{kind}#{subject_id}", f"USER#{user_id}"


def flash_requests_starting(until_iso: str, limit: int = 1000):
    return FlashReminderRequest.gsi2.query("FLASH_REMINDERS", FlashReminderRequest.gsi2sk <= f"{until_iso}#~",
                                           limit=limit)
