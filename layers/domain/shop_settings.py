"""The shop's rules (PUT /admin/settings), with the contract's defaults."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

DAY = 24 * 3600


# Issue 15: JSON integers only ("2", true and 1.0 are refused, not coerced).
StrictInt = Annotated[int, Strict()]


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_payment_timeout_s: StrictInt = Field(900, ge=60, le=7 * DAY)
    share_binding_ttl_s: StrictInt = Field(7 * DAY, ge=0, le=365 * DAY)
    commission_freeze_s: StrictInt = Field(7 * DAY, ge=0, le=365 * DAY)
    settlement_mode: Literal["auto", "manual"] = "auto"
    # Ours: receipt is confirmed automatically this long after shipping.
    auto_confirm_receipt_s: StrictInt = Field(10 * DAY, ge=3600, le=60 * DAY)
    # Ours: flat shipping fee in fen, waived from `free_shipping_threshold` fen of goods.
    shipping_fee: StrictInt = Field(0, ge=0, le=100_000)
    free_shipping_threshold: StrictInt = Field(0, ge=0)
    # Ours: the mini-program's subscription-message template ids, by reminder kind
    # (order_unpaid, order_paid, coupon_expiring, flash_sale_start); a kind without one sends nothing.
    subscription_templates: dict[Literal["order_unpaid", "order_paid", "coupon_expiring", "flash_sale_start"], str] = Field(
        default_factory=dict)
