"""Domain errors. Each names the contract's error code and the kind of refusal;
the HTTP edge (functions/_api.py) turns the kind into a status code."""

from __future__ import annotations


class DomainError(Exception):
    code = "INVALID_REQUEST"
    kind = "invalid"  # invalid | unauthorized | forbidden | not_found | conflict | unprocessable | rate_limited | unavailable

    def __init__(self, message: str | None = None, **details):
        super().__init__(message or self.code)
        self.message = message or self.code.replace("_", " ").lower()
        self.details = details


def _error(name: str, code: str, kind: str) -> type[DomainError]:
    return type(name, (DomainError,), {"code": code, "kind": kind})


InvalidRequest = _error("InvalidRequest", "INVALID_REQUEST", "invalid")
Unauthorized = _error("Unauthorized", "UNAUTHORIZED", "unauthorized")
InvalidCode = _error("InvalidCode", "INVALID_CODE", "unauthorized")
Forbidden = _error("Forbidden", "FORBIDDEN", "forbidden")
NotFound = _error("NotFound", "NOT_FOUND", "not_found")
SoldOut = _error("SoldOut", "SOLD_OUT", "conflict")
LimitExceeded = _error("LimitExceeded", "LIMIT_EXCEEDED", "conflict")
AlreadyClaimed = _error("AlreadyClaimed", "ALREADY_CLAIMED", "conflict")
InvalidState = _error("InvalidState", "INVALID_STATE", "conflict")
InProgress = _error("InProgress", "IN_PROGRESS", "conflict")
StockChanged = _error("StockChanged", "STOCK_CHANGED", "conflict")
NotStarted = _error("NotStarted", "NOT_STARTED", "unprocessable")
Ended = _error("Ended", "ENDED", "unprocessable")
CouponNotApplicable = _error("CouponNotApplicable", "COUPON_NOT_APPLICABLE", "unprocessable")
IdempotencyKeyReused = _error("IdempotencyKeyReused", "IDEMPOTENCY_KEY_REUSED", "unprocessable")
NotAcceptable = _error("NotAcceptable", "NOT_ACCEPTABLE", "unprocessable")
RateLimited = _error("RateLimited", "RATE_LIMITED", "rate_limited")
# An upstream (WeChat) failed; the request changed nothing and may be retried.
UpstreamUnavailable = _error("UpstreamUnavailable", "UPSTREAM_UNAVAILABLE", "unavailable")
# The storefront: an image URL the shop did not issue; a category still used.
UnknownImage = _error("UnknownImage", "UNKNOWN_IMAGE", "unprocessable")
InUse = _error("InUse", "IN_USE", "conflict")
# Freight: a province a template does not deliver to; a product naming no template.
Undeliverable = _error("Undeliverable", "UNDELIVERABLE", "unprocessable")
UnknownFreightTemplate = _error("UnknownFreightTemplate", "UNKNOWN_FREIGHT_TEMPLATE", "unprocessable")
# After-sales: past the order's after-sales window; an amount beyond what its units paid or
# beyond what the order has left to refund; a line already in an open after-sale.
AfterSalesClosed = _error("AfterSalesClosed", "AFTER_SALES_CLOSED", "unprocessable")
AmountTooLarge = _error("AmountTooLarge", "AMOUNT_TOO_LARGE", "unprocessable")
AfterSaleOpen = _error("AfterSaleOpen", "AFTER_SALE_OPEN", "conflict")
# Distribution: a share of a product the shop does not let its guides promote.
NotInPool = _error("NotInPool", "NOT_IN_POOL", "unprocessable")
# Recruitment (layers/domain/distributor_application.py): the shop takes no applications;
# the caller is already a distributor; a decided application decided again; no template
# to give an approved guide; a template or a manager's group that does not fit.
RecruitmentClosed = _error("RecruitmentClosed", "RECRUITMENT_CLOSED", "forbidden")
AlreadyDistributor = _error("AlreadyDistributor", "ALREADY_DISTRIBUTOR", "conflict")
ApplicationDecided = _error("ApplicationDecided", "APPLICATION_DECIDED", "conflict")
NoTemplate = _error("NoTemplate", "NO_TEMPLATE", "unprocessable")
UnknownTemplate = _error("UnknownTemplate", "UNKNOWN_TEMPLATE", "unprocessable")
InAnotherGroup = _error("InAnotherGroup", "IN_ANOTHER_GROUP", "conflict")
# Exports: no bucket is configured to write the file to (a stage without `CODE_BUCKET`).
ExportsUnavailable = _error("ExportsUnavailable", "EXPORTS_UNAVAILABLE", "unavailable")
# Links for channels (layers/domain/links.py): WeChat does not know the page in the published
# mini-program (40165, 85079, 41030); WeChat's daily or per-second quota of links is used up
# (45009, 44990, 85400); the mini-program may not make links (40002, 40013: not a
# mainland-China organisation's, or banned).
InvalidPage = _error("InvalidPage", "INVALID_PAGE", "unprocessable")
LinkQuotaExceeded = _error("LinkQuotaExceeded", "LINK_QUOTA_EXCEEDED", "rate_limited")
LinksNotAllowed = _error("LinksNotAllowed", "LINKS_NOT_ALLOWED", "forbidden")
# Stores (layers/domain/stores.py): a store edited since it was read (an edit that names
# its version); a store that does not take pickup orders; staff who are not what they are
# added as (no such console operator, a user who is not a distributor).
StoreChanged = _error("StoreChanged", "STORE_CHANGED", "conflict")
PickupNotOffered = _error("PickupNotOffered", "PICKUP_NOT_OFFERED", "unprocessable")
UnknownOperator = _error("UnknownOperator", "UNKNOWN_OPERATOR", "unprocessable")
NotADistributor = _error("NotADistributor", "NOT_A_DISTRIBUTOR", "unprocessable")
# Pickup (layers/domain/pickup.py): a pickup code redeemed already.
AlreadyRedeemed = _error("AlreadyRedeemed", "ALREADY_REDEEMED", "conflict")
