"""The shop's rules (PUT /admin/settings), with the contract's defaults."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

DAY = 24 * 3600


# JSON integers only ("2", true and 1.0 are refused, not coerced).
StrictInt = Annotated[int, Strict()]


class SubscriptionTemplate(BaseModel):
    """One message's template in the merchant's WeChat account: its id, and which of its
    keywords carries each value of the message (`{"order_id": "character_string1", ...}`;
    the values of each message: layers/domain/subscription.py)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    template_id: str = Field(min_length=1, max_length=128)
    # Left out: the message's default layout (filled in by ShopSettings, which knows the message).
    fields: dict[str, str] = Field(default_factory=dict)


def _templates_doc() -> str:
    from layers.domain.subscription import DEFAULT_FIELDS, MESSAGES, SHOWN_IN

    lines = ["By message: `{\"template_id\", \"fields\": {value: keyword}}`, the keyword of the merchant's "
             "template (a WeChat kind and its number, `thing1`) that carries each value. A bare template id, "
             "or no `fields`, takes the default layout. A message without a template sends nothing. Values "
             "(in brackets the keyword kinds that may carry each; * the message needs it) and the default layout:"]
    for message, values in MESSAGES.items():
        shown = ", ".join(f"{name}{'*' if needed else ''} ({'/'.join(SHOWN_IN[kind])})"
                          for name, (kind, needed) in values.items())
        lines.append(f"- {message}: {shown}; default {DEFAULT_FIELDS[message]}")
    return "\n".join(lines)


_TEMPLATES_DOC = _templates_doc()


class ReturnAddress(BaseModel):
    """Where returned goods go (the merchant's): shown to a shopper whose return was
    approved, never logged."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=5, max_length=20, pattern=r"^[0-9+\- ]+$")
    detail: str = Field(min_length=1, max_length=200)


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use

    order_payment_timeout_s: StrictInt = Field(900, ge=60, le=7 * DAY)
    share_binding_ttl_s: StrictInt = Field(7 * DAY, ge=0, le=365 * DAY)
    commission_freeze_s: StrictInt = Field(7 * DAY, ge=0, le=365 * DAY)
    settlement_mode: Literal["auto", "manual"] = "auto"
    # The merchant's largest single WeChat transfer: a larger payout is split. Below 2000
    # yuan, where WeChat would want the payee's real name.
    payout_max_fen: StrictInt = Field(20000, ge=20, lt=200_000)
    # Ours: ask each distributor, with their first claimed transfer, for WeChat's
    # confirmation-free receipt (免确认收款授权); once granted, settlement pays without a claim.
    transfer_authorization: Annotated[bool, Strict()] = False
    transfer_display_name: str = Field("分销佣金", min_length=1, max_length=32)
    # Ours: receipt is confirmed automatically this long after shipping.
    auto_confirm_receipt_s: StrictInt = Field(10 * DAY, ge=3600, le=60 * DAY)
    # Ours: a paid pickup order not collected this long after payment is refunded in full
    # (a reminder goes a day before, to a shopper who consented: layers/domain/pickup.py).
    pickup_window_s: StrictInt = Field(7 * DAY, ge=DAY, le=60 * DAY)
    # Ours: flat shipping fee in fen, waived from `free_shipping_threshold` fen of goods.
    shipping_fee: StrictInt = Field(0, ge=0, le=100_000)
    free_shipping_threshold: StrictInt = Field(0, ge=0)
    # Ours: the highest commission rate (basis points) a commission tier or a product's fixed
    # rate may pay. Only an owner changes settings, so paying a shopper more than this takes
    # an owner's action (raising it), which the audit log shows.
    max_commission_bps: StrictInt = Field(3000, ge=0, le=10_000)
    # -- recruitment (layers/domain/distributor_application.py): how a shopper's
    # application to become a distributor is decided (`open`: approved at once; `approval`:
    # by an operator; `closed`: refused), and the template a guide approved without one
    # gets (an existing template: 422 UNKNOWN_TEMPLATE; `open` needs one: 422 NO_TEMPLATE) --
    distributor_recruitment: Literal["open", "approval", "closed"] = "approval"
    distributor_template_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # -- after-sales: asked within this long of the order's completion (0: none after it);
    # goods sent back within return_window_s of the approval or the after-sale closes;
    # a request left unanswered after_sales_auto_approve_s is approved (0: never) --
    after_sales_window_s: StrictInt = Field(7 * DAY, ge=0, le=90 * DAY)
    return_window_s: StrictInt = Field(7 * DAY, ge=3600, le=90 * DAY)
    after_sales_auto_approve_s: StrictInt = Field(2 * DAY, ge=0, le=90 * DAY)
    return_address: ReturnAddress | None = None
    # -- points --
    points_per_yuan: StrictInt = Field(1, ge=0, le=10_000)
    point_value_fen: StrictInt = Field(1, ge=1, le=10_000)
    points_max_ratio_bps: StrictInt = Field(5000, ge=0, le=10_000)
    # Ours: the mini-program's subscription-message templates, by message (order_unpaid,
    # order_paid, coupon_expiring, flash_sale_start, group_expiring: the leader's group
    # about to expire, and coupon_received: a coupon an operator gave), each with its keyword layout; a message without one sends nothing.
    # A bare template id (how they were kept before layouts) takes the default layout.
    subscription_templates: dict[Literal["order_unpaid", "order_paid", "coupon_expiring", "flash_sale_start",
                                         "group_expiring", "after_sale_approved", "after_sale_refunded",
                                         "after_sale_rejected", "coupon_received", "pickup_expiring"],
                                   SubscriptionTemplate | str] = Field(
        default_factory=dict, description=_TEMPLATES_DOC)

    @field_validator("subscription_templates", mode="before")
    @classmethod
    def _bare_ids_take_the_default_layout(cls, value):
        from layers.domain.subscription import DEFAULT_FIELDS

        if not isinstance(value, dict):
            return value
        out = {}
        for message, template in value.items():
            if isinstance(template, str) and message in DEFAULT_FIELDS:
                if not template:
                    continue  # an empty id always meant "no template": nothing is sent
                template = {"template_id": template}
            if isinstance(template, dict) and "fields" not in template and message in DEFAULT_FIELDS:
                template = {**template, "fields": dict(DEFAULT_FIELDS[message])}
            out[message] = template
        return out

    @field_validator("subscription_templates")
    @classmethod
    def _layouts_carry_each_message(cls, value):
        from layers.domain.subscription import layout_problems

        if any(isinstance(template, str) for template in value.values()):
            raise ValueError("a template is an object {template_id, fields} or a template id")
        problems = [f"{message}.fields.{name}: {why}" for message, template in value.items()
                    for name, (_, why) in layout_problems(message, template.fields).items()]
        if problems:
            raise ValueError("; ".join(problems))
        return value
