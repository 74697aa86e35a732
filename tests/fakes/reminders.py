"""In-memory twin of layers/storage/reminders.py. Keys: ("consent", user_id, template_id)
-> Consent, ("reminded", kind, subject_id, user_id) -> status, ("flash_request", sale_id,
user_id) -> (FlashReminderRequest, queued: bool)."""

from __future__ import annotations

from dataclasses import replace

from layers.domain.reminders import Claim, Consent, FlashReminderRequest, ReminderStatus
from tests.fakes.memory import MemoryStore, MemoryTx


class MemoryReminderRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add_credits(self, user_id: str, template_ids: list[str], now: str) -> None:
        with self.store.lock:
            for template_id in template_ids:
                key = ("consent", user_id, template_id)
                before = self.store.items.get(key) or Consent(user_id, template_id, 0)
                self.store.items[key] = replace(before, credits=before.credits + 1)

    def consents(self, user_id: str) -> list[Consent]:
        return self.store.scan(("consent", user_id))

    def request_flash_reminder(self, request: FlashReminderRequest) -> None:
        with self.store.lock:
            self.store.items[("flash_request", request.sale_id, request.user_id)] = (request, True)

    def flash_requests_starting(self, until_iso: str, limit: int = 1000) -> list[FlashReminderRequest]:
        due = [r for r, queued in self.store.scan(("flash_request",))
               if queued and f"{r.starts_at}#{r.sale_id}#{r.user_id}" <= f"{until_iso}#~"]
        return sorted(due, key=lambda r: f"{r.starts_at}#{r.sale_id}#{r.user_id}")[:limit]

    def flash_request_done(self, request: FlashReminderRequest) -> None:
        with self.store.lock:
            key = ("flash_request", request.sale_id, request.user_id)
            if key in self.store.items:
                self.store.items[key] = (self.store.items[key][0], False)

    def stage_claim(self, tx: MemoryTx, claim: Claim, now: str, on_already_sent, on_no_consent) -> None:
        marker = ("reminded", claim.kind, claim.subject_id, claim.user_id)
        consent = ("consent", claim.user_id, claim.template_id)
        tx.add(lambda items: marker not in items,
               lambda items: items.__setitem__(marker, ReminderStatus.SENDING.value), on_already_sent)

        def take_credit(items):
            items[consent] = replace(items[consent], credits=items[consent].credits - 1)

        tx.add(lambda items: consent in items and items[consent].credits > 0, take_credit, on_no_consent)

    def finish(self, claim: Claim, status: str) -> None:
        marker = ("reminded", claim.kind, claim.subject_id, claim.user_id)
        with self.store.lock:
            if self.store.items.get(marker) == ReminderStatus.SENDING.value:
                self.store.items[marker] = status

    def finish_returning_credit(self, claim: Claim, status: str) -> None:
        marker = ("reminded", claim.kind, claim.subject_id, claim.user_id)
        consent = ("consent", claim.user_id, claim.template_id)
        with self.store.lock:
            if self.store.items.get(marker) == ReminderStatus.SENDING.value:
                self.store.items[marker] = status
                self.store.items[consent] = replace(self.store.items[consent],
                                                    credits=self.store.items[consent].credits + 1)

    def status(self, claim: Claim) -> str | None:
        """Test helper: what the marker says."""
        return self.store.get(("reminded", claim.kind, claim.subject_id, claim.user_id))
