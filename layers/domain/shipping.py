"""Shipping information for WeChat (发货信息管理): what an order's upload holds, and every
step of its life as a pure function.

WeChat holds a mini-program merchant's money until the order's shipping information is
uploaded (`/wxa/sec/order/upload_shipping_info`). One upload per paid order, keyed by our
`out_trade_no` and `mchid` (`order_number_type` 1). WeChat allows ONE change of shipping
information per payment, and counts only the uploads it accepted (the third accepted one is
10060003): the upload keeps `accepted` (how many WeChat took) and a `revision` (0, then 1
for the change). Correcting information WeChat refused is not a change; a change after two
accepted uploads is refused here, before WeChat refuses it.

    (ship)           -> PENDING         revision 0; emit order.shipped
    PENDING  --accepted-->       UPLOADED
    PENDING  --(-1, 10060001)--> PENDING    attempts + 1, next attempt after a backoff,
                                            for RETRY_FOR (48 h) from the first of them;
                                            then FAILED
    PENDING  --other errcode-->  FAILED     WeChat's code kept; an operator can retry
    FAILED   --operator retry--> PENDING    attempts from 0
    PENDING  --not under trade management--> NOT_REQUIRED (nothing to upload)
    (ship) of an order without a WeChat Pay transaction (paid from the balance, or
           nothing left to pay) -> NOT_REQUIRED at once, and stays so on a change
    nothing accepted --change--> PENDING    a correction: revision stays 0
    one accepted --change--> PENDING        revision 1; emit order.shipped again
    two accepted --change--> refused (InvalidState)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from layers.domain import errors

BEIJING = timezone(timedelta(hours=8))

# Our words -> WeChat's `logistics_type`.
LOGISTICS_TYPES = {"express": 1, "same_city": 2, "virtual": 3, "pickup": 4}
ITEM_DESC_MAX = 120
TRACKING_NO_MAX = 128
EXPRESS_COMPANY_MAX = 128
# WeChat answers these while it is busy, or before it has booked the payment ("支付单不存在"
# right after payment): wait and try again.
RETRYABLE_ERRCODES = {-1, 10060001}
BACKOFF_BASE_S = 10
BACKOFF_MAX_S = 900  # SQS's longest delay
# How long WeChat's "busy" and "payment not booked yet" are waited out: past this, the
# payment will not appear at WeChat by waiting (an operator must look), so it is FAILED.
RETRY_FOR = timedelta(hours=48)
# WeChat takes the first shipping information and one change of it per payment.
MAX_ACCEPTED = 2
# Couriers for whom WeChat requires a contact (masked) with the shipping information.
CONTACT_REQUIRED = {"SF"}
QUEUE = "SHIPPING_UPLOADS"
# NOT_REQUIRED uploads of WeChat Pay payments, kept findable: if WeChat enrols the merchant
# in trade management later, they are uploaded after all.
UNMANAGED_QUEUE = "SHIPPING_UNMANAGED"


class UploadStatus(StrEnum):
    PENDING = "PENDING"
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"
    NOT_REQUIRED = "NOT_REQUIRED"  # the merchant is not under WeChat's trade management


@dataclass(frozen=True)
class ShippingInfo:
    logistics_type: str
    express_company: str | None = None
    tracking_no: str | None = None

    def as_dict(self) -> dict:
        return {"logistics_type": self.logistics_type, "express_company": self.express_company,
                "tracking_no": self.tracking_no}


def shipping_info(logistics_type: str, express_company: str | None, tracking_no: str | None) -> ShippingInfo:
    """The operator's shipping information, checked: express needs the courier (WeChat's
    `delivery_id`) and the tracking number; the others carry neither."""
    if logistics_type not in LOGISTICS_TYPES:
        raise errors.InvalidRequest(f"logistics_type must be one of {', '.join(LOGISTICS_TYPES)}")
    express_company = (express_company or "").strip() or None
    tracking_no = (tracking_no or "").strip() or None
    if logistics_type == "express":
        if not express_company or not tracking_no:
            raise errors.InvalidRequest("express shipping needs express_company and tracking_no")
        if len(tracking_no) > TRACKING_NO_MAX or len(express_company) > EXPRESS_COMPANY_MAX:
            raise errors.InvalidRequest("express_company and tracking_no are at most 128 characters")
        return ShippingInfo(logistics_type, express_company, tracking_no)
    return ShippingInfo(logistics_type)


@dataclass(frozen=True)
class ShippingUpload:
    order_id: str  # = out_trade_no
    mchid: str
    openid: str
    logistics_type: str
    item_desc: str
    created_at: str
    express_company: str | None = None
    tracking_no: str | None = None
    receiver_contact: str | None = None  # masked, only where WeChat asks for it
    transaction_id: str | None = None
    status: str = UploadStatus.PENDING.value
    revision: int = 0  # 1 once the one change WeChat allows was made
    attempts: int = 0
    next_attempt_at: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    uploaded_at: str | None = None
    version: int = 0
    accepted: int = 0  # uploads WeChat accepted for this payment (it takes MAX_ACCEPTED)
    retrying_since: str | None = None  # the first of the current run of retryable refusals

    @property
    def info(self) -> ShippingInfo:
        return ShippingInfo(self.logistics_type, self.express_company, self.tracking_no)


class ShippingUploadRepository(Protocol):
    def get(self, order_id: str) -> ShippingUpload | None: ...

    def due(self, until_iso: str, limit: int = 100) -> list[ShippingUpload]:
        """PENDING uploads whose next attempt is due, oldest first (eventually consistent)."""

    def unmanaged(self, limit: int = 100) -> list[ShippingUpload]:
        """NOT_REQUIRED uploads of WeChat Pay payments (skipped while not trade-managed),
        oldest first (eventually consistent)."""

    def stage_create(self, tx, upload: ShippingUpload, on_exists) -> None: ...

    def stage_change(self, tx, before: ShippingUpload, after: ShippingUpload, on_stale) -> None:
        """Write `after`, conditioned on the stored upload still being `before.version`."""


class TradeManagementCache(Protocol):
    """Whether the merchant is under WeChat's trade management, as last checked."""

    def get(self) -> tuple[bool, str] | None:
        """(managed, checked_at) or None if never checked."""

    def put(self, managed: bool, checked_at: str) -> None: ...


# -- pure rules ---------------------------------------------------------------------------

def mask_phone(phone: str | None) -> str | None:
    """WeChat's masked contact: `138****0000` (the middle four digits hidden)."""
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) < 7:
        return None
    return digits[:3] + "****" + digits[-4:]


def item_desc(items: tuple[dict, ...] | list[dict]) -> str:
    """`title*quantity` for each line, joined; at most 120 characters."""
    parts = [f"{(i.get('title') or i['sku_id'])}*{int(i['quantity'])}" for i in items]
    text = " ".join(parts) or "商品"
    return text if len(text) <= ITEM_DESC_MAX else text[:ITEM_DESC_MAX - 1] + "…"


def upload_time(now: datetime) -> str:
    """RFC 3339 in Beijing time with milliseconds: `2026-11-29T10:00:00.000+08:00`."""
    bj = now.astimezone(BEIJING)
    return bj.strftime("%Y-%m-%dT%H:%M:%S.") + f"{bj.microsecond // 1000:03d}+08:00"


def backoff_s(attempts: int) -> int:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def needs_upload(upload: ShippingUpload) -> bool:
    """Only a WeChat Pay transaction has shipping information at WeChat: an order paid from
    the balance (or with nothing left to pay) has none, and WeChat would answer 10060001
    ("支付单不存在") to every attempt."""
    return bool(upload.transaction_id)


def new_upload(order, info: ShippingInfo, mchid: str, now: str) -> ShippingUpload:
    """The upload an order's shipping starts (`order` is a layers.domain.order.Order)."""
    contact = None
    if info.express_company in CONTACT_REQUIRED:
        contact = mask_phone((order.address or {}).get("phone"))
    upload = ShippingUpload(
        order_id=order.order_id, mchid=mchid, openid=order.openid, logistics_type=info.logistics_type,
        express_company=info.express_company, tracking_no=info.tracking_no, item_desc=item_desc(order.items),
        receiver_contact=contact, transaction_id=order.transaction_id, created_at=now, next_attempt_at=now)
    if not needs_upload(upload):
        return replace(upload, status=UploadStatus.NOT_REQUIRED.value, next_attempt_at=None)
    return upload


def change(upload: ShippingUpload, info: ShippingInfo, now: str) -> ShippingUpload:
    """The one change of shipping information WeChat allows per payment."""
    if not needs_upload(upload):  # nothing at WeChat: WeChat's one-change rule does not apply
        return replace(upload, logistics_type=info.logistics_type, express_company=info.express_company,
                       tracking_no=info.tracking_no, status=UploadStatus.NOT_REQUIRED.value, next_attempt_at=None,
                       version=upload.version + 1)
    if upload.accepted >= MAX_ACCEPTED:
        raise errors.InvalidState("WeChat allows one change of shipping information per payment; "
                                  "it was already changed")
    # What WeChat refused used nothing: with nothing accepted yet this is a correction
    # (revision 0); after the first accepted upload it is the one change (revision 1).
    return replace(upload, logistics_type=info.logistics_type, express_company=info.express_company,
                   tracking_no=info.tracking_no, status=UploadStatus.PENDING.value, revision=upload.accepted,
                   attempts=0, next_attempt_at=now, error_code=None, error_message=None, uploaded_at=None,
                   retrying_since=None, version=upload.version + 1)


def request_body(upload: ShippingUpload, now: datetime) -> dict:
    """The documented body of upload_shipping_info."""
    shipping = {"item_desc": upload.item_desc}
    if upload.logistics_type == "express":
        shipping.update(tracking_no=upload.tracking_no, express_company=upload.express_company)
        if upload.receiver_contact:
            shipping["contact"] = {"receiver_contact": upload.receiver_contact}
    return {
        "order_key": {"order_number_type": 1, "mchid": upload.mchid, "out_trade_no": upload.order_id},
        "logistics_type": LOGISTICS_TYPES[upload.logistics_type],
        "delivery_mode": 1,  # UNIFIED_DELIVERY: one parcel
        "shipping_list": [shipping],
        "upload_time": upload_time(now),
        "payer": {"openid": upload.openid},
    }


def _ensure_pending(upload: ShippingUpload) -> None:
    if upload.status != UploadStatus.PENDING:
        raise errors.InvalidState(f"the upload is {upload.status}")


def uploaded(upload: ShippingUpload, now: str) -> ShippingUpload:
    _ensure_pending(upload)
    return replace(upload, status=UploadStatus.UPLOADED.value, uploaded_at=now, attempts=upload.attempts + 1,
                   next_attempt_at=None, error_code=None, error_message=None, retrying_since=None,
                   accepted=upload.accepted + 1, version=upload.version + 1)


def accepted_meanwhile(upload: ShippingUpload) -> ShippingUpload:
    """WeChat accepted an upload whose result could not be written (the operator changed the
    information meanwhile): the acceptance still counts against WeChat's one change, and a
    pending upload is now that change."""
    accepted = upload.accepted + 1
    revision = accepted if upload.status == UploadStatus.PENDING else upload.revision
    return replace(upload, accepted=accepted, revision=min(revision, MAX_ACCEPTED - 1), version=upload.version + 1)


def not_required(upload: ShippingUpload) -> ShippingUpload:
    _ensure_pending(upload)
    return replace(upload, status=UploadStatus.NOT_REQUIRED.value, next_attempt_at=None,
                   version=upload.version + 1)


def refused(upload: ShippingUpload, errcode: int, errmsg: str, now: datetime) -> ShippingUpload:
    """WeChat did not take it: try again later (busy, payment not booked yet) or FAILED."""
    _ensure_pending(upload)
    attempts = upload.attempts + 1
    since = upload.retrying_since or _iso(now)
    if errcode in RETRYABLE_ERRCODES and now < _parse(since) + RETRY_FOR:
        return replace(upload, attempts=attempts, error_code=errcode, error_message=errmsg[:200],
                       next_attempt_at=_iso(now + timedelta(seconds=backoff_s(attempts))),
                       retrying_since=since, version=upload.version + 1)
    return replace(upload, status=UploadStatus.FAILED.value, attempts=attempts, error_code=errcode,
                   error_message=errmsg[:200], next_attempt_at=None, retrying_since=None,
                   version=upload.version + 1)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def unreachable(upload: ShippingUpload, reason: str, now: datetime) -> ShippingUpload:
    """WeChat could not be asked (timeout, 5xx): as busy."""
    return refused(upload, -1, reason, now)


def resume(upload: ShippingUpload, now: str) -> ShippingUpload:
    """WeChat now trade-manages the merchant: an upload skipped as not required is due."""
    if upload.status != UploadStatus.NOT_REQUIRED or not needs_upload(upload):
        raise errors.InvalidState(f"only an upload skipped while not trade-managed resumes; it is {upload.status}")
    return replace(upload, status=UploadStatus.PENDING.value, attempts=0, next_attempt_at=now,
                   retrying_since=None, version=upload.version + 1)


def retry(upload: ShippingUpload, now: str) -> ShippingUpload:
    """An operator asks again after a failure."""
    if upload.status != UploadStatus.FAILED:
        raise errors.InvalidState(f"only a FAILED upload can be retried; it is {upload.status}")
    return replace(upload, status=UploadStatus.PENDING.value, attempts=0, next_attempt_at=now,
                   retrying_since=None, version=upload.version + 1)


def view(upload: ShippingUpload) -> dict:
    return {"order_id": upload.order_id, "status": upload.status, "revision": upload.revision,
            "attempts": upload.attempts, "error_code": upload.error_code, "error_message": upload.error_message,
            "uploaded_at": upload.uploaded_at, "next_attempt_at": upload.next_attempt_at,
            **upload.info.as_dict()}


CLAIM_S = 60  # how long one caller holds an upload while it talks to WeChat


def claim(upload: ShippingUpload, now: datetime) -> ShippingUpload:
    """One caller takes a due PENDING upload for CLAIM_S before calling WeChat, so that a
    duplicate delivery of the same message does not upload twice (WeChat would count the
    second as the one change it allows)."""
    _ensure_pending(upload)
    if upload.next_attempt_at and upload.next_attempt_at > _iso(now):
        raise errors.InvalidState("not due: another caller holds it, or it waits for its backoff")
    return replace(upload, next_attempt_at=_iso(now + timedelta(seconds=CLAIM_S)), version=upload.version + 1)
