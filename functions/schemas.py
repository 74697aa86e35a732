"""Request bodies: every model a route parses, and `REQUEST_MODELS`, which route takes
which. openapi/build.py generates each route's `requestBody` schema from these models,
so what is validated and what is documented are the same thing (`make openapi`).

A route parses with `parse_body(bp, schemas.X)` and hands the model to its service as
it is; services read its fields and `model_dump()` but never import this module
(imports point down: functions -> services -> domain). A field's `description` and a
model's docstring end up in the OpenAPI document.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel as _PydanticModel
from pydantic import ConfigDict, Field, Strict, model_serializer, model_validator

from layers.domain.shop_settings import ShopSettings


class BaseModel(_PydanticModel):
    """Every request model: its validator is built on its first use, not at import (a
    cold start builds only what the request in hand needs; tens of models otherwise)."""

    model_config = ConfigDict(defer_build=True)

# -- strict input --
# Quantities and money are JSON integers only: "2", true and 1.0 are refused, not coerced.
Int = Annotated[int, Strict()]
# Ids are opaque but have a shape: what the shop makes is letters, digits, "_" and "-".
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
# A path parameter (ids, share tokens, job names, dates): checked by functions/_api.route.
# PATH_ID_PATTERN, in functions/_ids.py (the routes check paths without loading this module)

# -- shoppers ---------------------------------------------------------------------------


class LoginInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128)


class CartLineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: Int = Field(ge=1, le=999)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=20)
    province: str | None = Field(None, max_length=50)
    city: str | None = Field(None, max_length=50)
    district: str | None = Field(None, max_length=50)
    detail: str = Field(min_length=1, max_length=200)


class AddressInput(Address):
    """An address saved in the shopper's book (POST /me/addresses, PUT /me/addresses/{id}):
    the fields of an order's address, and whether it is the default. The first address is
    the default whatever it says; `false` on the default moves the default to the most
    recently updated other address (docs/addresses.md)."""

    is_default: Annotated[bool, Strict()] | None = Field(
        None, description="make it the default (the old default stops being it); absent: as it is, "
                          "or not the default for a new address")


# A channel is the tag a merchant gives a link or code (`POST /admin/links`); the
# mini-program passes it on from the link's query. Letters, digits, `_` and `-` only: it
# travels in URL queries and in a code's 32-character `scene`.
CHANNEL_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
Channel = Annotated[str, Field(min_length=1, max_length=32, pattern=CHANNEL_PATTERN,
                               description="the tag of the link or code the shopper came through")]
# WeChat's launch scene (场景值): four digits, 1001 a chat's mini-program card and so on.
Scene = Annotated[int, Strict(), Field(ge=1000, le=9999, description="WeChat's launch scene (场景值)")]


class CameFrom(BaseModel):
    """Where an order came from. Without a `channel`, the order takes the shopper's last
    visit's channel within the share binding window."""

    channel: Channel | None = None
    scene: Scene | None = None


class VisitInput(BaseModel):
    """The mini-program opened (POST /visits): the page it opened, WeChat's launch scene,
    the channel of the link or code it came through, and a guide's share token."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=256, description="the page opened, as wx.getLaunchOptionsSync gives it")
    scene: Scene
    channel: Channel | None = None
    share_token: str | None = Field(None, min_length=1, max_length=64,
                                    description="a guide's share token; one that names no share is ignored")


class PickupDelivery(BaseModel):
    """Collected in a store (门店自提): no address, no shipping fee; the store must take
    pickups (GET /stores)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["pickup"]
    store_id: Id


class ShipsToAnAddress(BaseModel):
    """An order body's address: the address itself, or the id of one in the shopper's book
    (`address_id`, from GET /me/addresses), exactly one of the two; or neither, for an
    order collected in a store (`delivery` `{"kind": "pickup", "store_id"}`)."""

    # What the validator below holds, for the document: exactly one of the three is given (not null).
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["address"], "properties": {"address": {"type": "object"}},
         "not": {"required": ["delivery"]}},
        {"required": ["address_id"], "properties": {"address_id": {"type": "string"}},
         "not": {"required": ["delivery"]}},
        {"required": ["delivery"], "properties": {"delivery": {"type": "object"}},
         "not": {"anyOf": [{"required": ["address"]}, {"required": ["address_id"]}]}}]})

    address: Address | None = None
    address_id: Id | None = Field(
        None, description="an address of the caller's book (GET /me/addresses), in place of `address`")
    delivery: PickupDelivery | None = Field(
        None, description="collected in a store, in place of an address: `{\"kind\": \"pickup\", \"store_id\"}`")

    @model_validator(mode="after")
    def _exactly_one_address(self):
        if self.delivery is not None:
            if self.address is not None or self.address_id is not None:
                raise ValueError("a pickup order (delivery) takes neither address nor address_id")
            return self
        if (self.address is None) == (self.address_id is None):
            raise ValueError("give exactly one of address (the address itself) and address_id "
                             "(an id from GET /me/addresses), or a pickup delivery")
        return self

    @model_serializer(mode="wrap")
    def _no_unused_address_id(self, dump):
        """An order body with its address inline dumps as it did before `address_id`,
        `delivery`, `channel` and `scene` existed: its request hash (Idempotency-Key) is the
        same across the deploy, so a retry of an order placed before it is not refused."""
        data = dump(self)
        if isinstance(data, dict):
            for name in ("address_id", "delivery", "channel", "scene"):
                if data.get(name) is None:
                    data.pop(name, None)
        return data


class RedemptionInput(BaseModel):
    """A pickup code as the shopper shows it (typed or scanned): 12 digits, spaces and
    dashes allowed between them."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9 \-]+$")


class OrderLineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku_id: Id
    quantity: Int = Field(ge=1, le=999)


class PlaceOrderInput(ShipsToAnAddress, CameFrom):
    model_config = ConfigDict(extra="forbid")
    items: list[OrderLineInput] = Field(min_length=1, max_length=50)
    coupon_id: Id | None = None
    share_token: Id | None = None
    # -- members --
    pay_with: Literal["wechat", "balance"] = "wechat"
    points: Int | None = Field(None, ge=1, le=100_000_000, description="points to spend on this order")


class RefundLineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku_id: Id = Field(description="a SKU of the order; its bought lines are refunded before a free gift line")
    quantity: Int = Field(ge=1, le=999, description="units of it to refund, at most those not refunded yet")


class RefundInput(BaseModel):
    """A refund of an amount (all that is left without one), or of order lines' units
    (`items`), refunded for what those units paid: the two are exclusive."""

    model_config = ConfigDict(extra="forbid")
    amount: Int | None = Field(None, ge=1, description="fen; all that is left to refund when both amount and "
                                                     "items are left out")
    items: list[RefundLineInput] | None = Field(
        None, min_length=1, max_length=50,
        description="order lines' units to refund, for what they paid (each line's `paid` spread over its units); "
                    "exclusive with amount")
    reason: str = Field(min_length=1, max_length=80)

    @model_validator(mode="after")
    def _amount_or_items(self):
        if self.amount is not None and self.items is not None:
            raise ValueError("amount and items are exclusive: refund an amount or order lines, not both")
        return self


# -- after-sales --
class AfterSaleInput(BaseModel):
    """A shopper's after-sale of delivered units (reasons: GET /after-sales/reasons)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["refund_only", "return_refund", "exchange"]
    items: list[RefundLineInput] = Field(min_length=1, max_length=50,
                                         description="the order's units it is about, by SKU")
    reason_code: str = Field(min_length=1, max_length=32, description="a code of GET /after-sales/reasons that "
                                                                      "applies to the kind")
    description: str | None = Field(None, max_length=500)
    images: list[str] | None = Field(None, max_length=9, description="photos: image URLs the shop issued (uploads)")
    amount: Int | None = Field(None, ge=1, description="fen asked back, at most what the units paid; by default "
                                                       "all of it (an exchange refunds nothing)")


class ReturnShipmentInput(BaseModel):
    """The goods went back: the courier and its tracking number."""

    model_config = ConfigDict(extra="forbid")
    express_company: str = Field(min_length=1, max_length=64)
    tracking_no: str = Field(min_length=1, max_length=64)


class AfterSaleNoteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=200)


class AfterSaleRejectInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200, description="shown to the shopper")


class ReceiveInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    restock: Annotated[bool, Strict()] = Field(description="put the returned units back in stock (in the stock "
                                                           "ledger)")


class GoodwillCouponInput(BaseModel):
    """A coupon given to one shopper (a goodwill gesture after an after-sale, say)."""

    model_config = ConfigDict(extra="forbid")
    template_id: Id
    reason: str = Field(min_length=1, max_length=200, description="why: kept in the audit log")


class AbnormalRefundInput(BaseModel):
    """Send an ABNORMAL refund (WeChat could not return it to the payer) to a bank card,
    through WeChat Pay's abnormal-refund API: the payer's (`USER_BANK_CARD`, with the
    card's bank type, number and holder) or the merchant's (`MERCHANT_BANK_CARD`)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["USER_BANK_CARD", "MERCHANT_BANK_CARD"]
    bank_type: str | None = Field(None, min_length=1, max_length=32)
    bank_account: str | None = Field(None, pattern=r"^[0-9]{8,32}$")
    real_name: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _user_card_needs_its_details(self):
        if self.type == "USER_BANK_CARD" and not (self.bank_type and self.bank_account and self.real_name):
            raise ValueError("USER_BANK_CARD needs bank_type, bank_account and real_name")
        return self


class OrderInput(ShipsToAnAddress, CameFrom):
    """A flash-sale order (POST /flash-sales/{sale_id}/orders)."""

    model_config = ConfigDict(extra="forbid")
    quantity: Int = Field(ge=1, le=100)
    share_token: Id | None = None
    # -- members --
    pay_with: Literal["wechat", "balance"] = "wechat"
    points: Int | None = Field(None, ge=1, le=100_000_000, description="points to spend on this order")


class ShareInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: Id | None = None


class ConsentInput(BaseModel):
    """What wx.requestSubscribeMessage answered, passed on as it is."""

    model_config = ConfigDict(extra="forbid")
    results: dict[str, str] = Field(
        min_length=1, max_length=20,
        description="template id -> accept | reject | ban | filter; only accept counts")
    flash_sale_id: Id | None = None


# -- operators: catalog -------------------------------------------------------------------


class SkuInput(BaseModel):
    """A new SKU takes `stock`. An existing SKU's (`id`) stock moves by `stock_delta`
    (never below 0), or is set to `stock` only while it is still `expected_stock`, the
    stock the operator saw (409 STOCK_CHANGED otherwise): orders take and give back
    units meanwhile. `stock` alone on an existing SKU changes nothing and is 409 if the
    stock is no longer that."""

    model_config = ConfigDict(extra="forbid")
    id: Id | None = Field(None, description="to change an existing SKU (PUT)")
    price: Int = Field(ge=1, le=100_000_000)
    stock: Int | None = Field(None, ge=0, le=10_000_000, description="required for a new SKU")
    stock_delta: Int | None = Field(None, ge=-10_000_000, le=10_000_000,
                                    description="an existing SKU: units to add (or, negative, remove)")
    expected_stock: Int | None = Field(None, ge=0, le=10_000_000,
                                       description="an existing SKU: the stock the operator saw; `stock` is set only "
                                                   "while it is still this")
    spec: dict[Annotated[str, Field(min_length=1, max_length=20)], Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        None, max_length=5, description="attribute names to values, e.g. {\"颜色\": \"红\", \"尺码\": \"M\"}")
    list_price: Int | None = Field(None, ge=1, le=100_000_000, description="the struck-through price, at least `price`")
    weight_g: Int | None = Field(None, ge=0, le=1_000_000, description="grams, for freight by weight")

    @model_validator(mode="after")
    def _list_price_not_below_price(self):
        if self.list_price is not None and self.list_price < self.price:
            raise ValueError("list_price is at least price")
        return self

    @model_validator(mode="after")
    def _one_way_to_move_stock(self):
        if self.id is None and (self.stock is None or self.stock_delta is not None or self.expected_stock is not None):
            raise ValueError("a new SKU takes stock (stock_delta and expected_stock are for existing SKUs)")
        if self.stock_delta is not None and (self.stock is not None or self.expected_stock is not None):
            raise ValueError("give stock_delta, or stock with expected_stock, not both")
        if self.expected_stock is not None and self.stock is None:
            raise ValueError("expected_stock goes with stock")
        return self


class CommissionInput(BaseModel):
    """`fixed` needs `rate_bps`."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["tier", "fixed"]
    rate_bps: Int | None = Field(None, ge=0, le=10_000)

    @model_validator(mode="after")
    def _fixed_needs_rate(self):
        if self.mode == "fixed" and self.rate_bps is None:
            raise ValueError("a fixed commission needs rate_bps")
        return self


ImageUrl = Annotated[str, Field(min_length=1, max_length=500, description="an `image_url` of POST /admin/uploads")]
Tag = Annotated[str, Field(min_length=1, max_length=20)]


class ProductInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    category: str | None = Field(None, max_length=100)
    skus: list[SkuInput] = Field(min_length=1, max_length=100)
    commission: CommissionInput | None = None
    active: bool = True
    images: list[ImageUrl] = Field(default_factory=list, max_length=9, description="the first is the cover")
    description: str | None = Field(None, max_length=10_000)
    detail_images: list[ImageUrl] = Field(default_factory=list, max_length=30)
    category_id: Id | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    sort_weight: Int = Field(0, ge=-1_000_000, le=1_000_000, description="higher first in the default order")
    freight_template_id: Id | None = Field(
        None, description="a template of GET /admin/freight-templates (422 UNKNOWN_FREIGHT_TEMPLATE otherwise); "
                          "absent or null: the shop's flat shipping_fee")


# -- operators: categories and uploads ----------------------------------------------------------


class CategoryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    parent_id: Id | None = None
    sort_weight: Int = Field(0, ge=-1_000_000, le=1_000_000)
    image_url: ImageUrl | None = None


class UploadInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    size: Int = Field(ge=1, le=5 * 1024 * 1024, description="bytes, at most 5 MB")


# -- operators: freight templates -----------------------------------------------------------

Province = Annotated[str, Field(min_length=1, max_length=20,
                                description="as WeChat's address picker names it (广东省, 内蒙古自治区); "
                                            "the short form (广东, 内蒙古) is taken too")]


class FreightChargeInput(BaseModel):
    """The first `first` units (pieces, or grams when the template charges by weight) for
    `first_fee`; then each further `additional` units started for `additional_fee`
    (`additional` 0: nothing further)."""

    model_config = ConfigDict(extra="forbid")
    first: Int = Field(ge=1, le=1_000_000, description="pieces or grams")
    first_fee: Int = Field(ge=0, le=10_000_000, description="fen")
    additional: Int = Field(ge=0, le=1_000_000, description="pieces or grams")
    additional_fee: Int = Field(ge=0, le=10_000_000, description="fen")


class FreightRegionInput(FreightChargeInput):
    """What these provinces are charged instead of the default; a province is in one region at most."""

    provinces: list[Province] = Field(min_length=1, max_length=34)


class FreeRuleInput(BaseModel):
    """包邮: the template's part of an order is 0 where every condition given holds (at least one)."""

    model_config = ConfigDict(extra="forbid")
    provinces: list[Province] = Field(default_factory=list, max_length=34, description="empty: everywhere")
    min_amount: Int | None = Field(None, ge=1, le=100_000_000,
                                   description="fen: the template's goods at list price, before discounts")
    min_pieces: Int | None = Field(None, ge=1, le=1_000_000)


class FreightTemplateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    charge_by: Literal["piece", "weight"]
    default: FreightChargeInput
    regions: list[FreightRegionInput] = Field(default_factory=list, max_length=34)
    free: list[FreeRuleInput] = Field(default_factory=list, max_length=10)
    undeliverable: list[Province] = Field(default_factory=list, max_length=34,
                                          description="an address here is 422 UNDELIVERABLE")


class FreightTemplateUpdateInput(FreightTemplateInput):
    """The whole template, replaced."""

    version: Int | None = Field(None, ge=1, description="the version read: the change is made only while the "
                                                         "template is still at it (409 INVALID_STATE otherwise)")


# -- operators: coupons -------------------------------------------------------------------


class ScopeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_ids: list[Id] = Field(default_factory=list, max_length=100)
    categories: list[str] = Field(default_factory=list, max_length=50)


class PostPaymentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_payable: Int = Field(0, ge=0)


class CouponTemplateInput(BaseModel):
    """`fixed` takes `value` fen off, `percent` takes `value` percent off (1 to 99).
    Times carry a zone; `claim_ends_at` is after `claim_starts_at`; give `valid_from`
    and `valid_until` (in that order), or `valid_days`; no more `shards` than `total`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    kind: Literal["fixed", "percent"]
    value: Int = Field(ge=1)
    threshold: Int = Field(0, ge=0)
    max_discount: Int | None = Field(None, ge=1)
    claim_starts_at: datetime
    claim_ends_at: datetime
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: Int | None = Field(None, ge=1, le=3650)
    total: Int = Field(ge=1, le=10_000_000)
    per_user_limit: Int = Field(ge=1, le=1000)
    scope: ScopeInput | None = None
    post_payment: PostPaymentInput | None = None
    expected_claims_per_s: Int | None = Field(
        None, ge=1, le=1_000_000,
        description="the peak you expect; sets how many counter shards the template gets "
                    "(about 500 claims/s each)")
    shards: Int | None = Field(None, ge=1, le=100)

    @model_validator(mode="after")
    def _coherent(self):
        for name in ("claim_starts_at", "claim_ends_at", "valid_from", "valid_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (RFC 3339, e.g. 2026-11-22T08:00:00Z)")
        if self.kind == "percent" and not 1 <= self.value <= 99:
            raise ValueError("a percent coupon takes 1 to 99 percent off")
        if self.claim_ends_at <= self.claim_starts_at:
            raise ValueError("claim_ends_at must be after claim_starts_at")
        if self.valid_days is None and (self.valid_from is None or self.valid_until is None):
            raise ValueError("give valid_from and valid_until, or valid_days")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if self.shards and self.shards > self.total:
            raise ValueError("no more shards than coupons")
        return self


# -- operators: flash sales ---------------------------------------------------------------


class SaleInput(BaseModel):
    """Times carry a zone; `ends_at` is after `starts_at`; no more `shards` than `stock`."""

    model_config = ConfigDict(extra="forbid")
    sku_id: Id
    price: Int = Field(ge=1)
    stock: Int = Field(ge=1, le=1_000_000)
    starts_at: datetime
    ends_at: datetime
    per_user_limit: Int = Field(ge=1, le=100)
    shards: Int | None = Field(
        None, ge=1, le=64,
        description="stock counter shards K (default from expected_attempts_per_s; see docs/flash-sales.md)")
    expected_attempts_per_s: Int | None = Field(None, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _window(self):
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone (RFC 3339)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.shards and self.shards > self.stock:
            raise ValueError("no more shards than units")
        return self


# -- operators: distribution --------------------------------------------------------------


class TierInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    rate_bps: Int = Field(ge=0, le=10_000)
    min_sales_count: Int | None = Field(None, ge=0, le=10_000_000)
    min_sales_amount: Int | None = Field(None, ge=0, le=10**13)


class CommissionTemplateInput(BaseModel):
    """Tier names are unique."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    tiers: list[TierInput] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_names(self):
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return self


class DistributorInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    template_id: Id
    manager_id: Id | None = None


class ManagerInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    name: str | None = Field(None, max_length=100)
    template_id: Id | None = Field(None, description=(
        "the commission template the guides this manager adds get (kept when not given; "
        "422 UNKNOWN_TEMPLATE for no such template)"))


class GroupMemberInput(BaseModel):
    """A manager adds a guide to their own group (`POST /manager/distributors`)."""

    model_config = ConfigDict(extra="forbid")
    user_id: Id


class DistributorApplicationInput(BaseModel):
    """A shopper asks to become a distributor."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=32, description="the name the applicant goes by")
    note: str | None = Field(None, max_length=200, description="anything the operator should know")


class ApprovalInput(BaseModel):
    """An operator approves an application: the template (else the manager's, else the
    shop's `distributor_template_id`, else 422 NO_TEMPLATE) and the manager's group to join."""

    model_config = ConfigDict(extra="forbid")
    template_id: Id | None = None
    manager_id: Id | None = None


class RejectionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=200, description="told to the applicant")


# -- bargains and friend assistance ------------------------------------------------


def _campaign_window(model):
    if model.starts_at.tzinfo is None or model.ends_at.tzinfo is None:
        raise ValueError("starts_at and ends_at need a time zone (RFC 3339)")
    if model.ends_at <= model.starts_at:
        raise ValueError("ends_at must be after starts_at")
    return model


class BargainInput(BaseModel):
    """砍价. The start price is the SKU's price; `price - floor_price >= helpers_needed` fen
    (every cut is at least 1 fen). Times carry a zone; `ends_at` is after `starts_at`."""

    model_config = ConfigDict(extra="forbid")
    sku_id: str = Field(min_length=1, max_length=64)
    floor_price: Int = Field(ge=1, le=100_000_000)
    helpers_needed: Int = Field(ge=1, le=100)
    ttl_s: Int = Field(ge=60, le=86400, description="how long an instance has to reach the floor and be bought")
    starts_at: datetime
    ends_at: datetime
    stock: Int = Field(ge=1, le=1_000_000, description="units that can be bought at the floor price")
    per_user_limit: Int = Field(ge=1, le=100, description="instances a shopper may start")
    helps_per_user_per_day: Int | None = Field(
        None, ge=1, le=1000, description="helps one shopper may give in this bargain per Beijing day")

    @model_validator(mode="after")
    def _window(self):
        return _campaign_window(self)


class BargainOrderInput(ShipsToAnAddress, CameFrom):
    """Buying a SUCCEEDED bargain instance at its floor price."""

    model_config = ConfigDict(extra="forbid")
    share_token: str | None = Field(None, max_length=64)
    # -- members --
    pay_with: Literal["wechat", "balance"] = "wechat"
    points: Int | None = Field(None, ge=1, le=100_000_000, description="points to spend on this order")


class AssistCampaignInput(BaseModel):
    """助力. Times carry a zone; `ends_at` is after `starts_at`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    helpers_needed: Int = Field(ge=1, le=100)
    reward_coupon_template_id: str = Field(min_length=1, max_length=64)
    ttl_s: Int = Field(ge=60, le=86400)
    starts_at: datetime
    ends_at: datetime
    per_user_limit: Int = Field(ge=1, le=100, description="instances a shopper may start")
    new_users_only: bool = Field(
        False, description="only shoppers whose first login came after the instance started may help")
    helps_per_user_per_day: Int | None = Field(None, ge=1, le=1000)

    @model_validator(mode="after")
    def _window(self):
        return _campaign_window(self)


# -- group buys (拼团) ----------------------------------------------------------------


class GroupBuyInput(BaseModel):
    """拼团. `price` is the group price in fen; a group succeeds when `group_size` members
    have paid, or at its expiry with at least `success_min_paid` paid (where set).
    Times carry a zone; `ends_at` is after `starts_at`."""

    model_config = ConfigDict(extra="forbid")
    sku_id: str = Field(min_length=1, max_length=64)
    price: Int = Field(ge=1, le=100_000_000, description="the group price, in fen")
    group_size: Int = Field(ge=2, le=100)
    group_ttl_s: Int = Field(ge=60, le=86400, description="how long a group has, from its leader's payment")
    starts_at: datetime
    ends_at: datetime
    stock: Int = Field(ge=1, le=1_000_000, description="units that can be sold at the group price")
    per_user_limit: Int = Field(ge=1, le=100, description="group orders one shopper may place in this group buy")
    success_min_paid: Int | None = Field(
        None, ge=1, le=100, description="a group short of group_size still succeeds at its expiry with this many paid")

    @model_validator(mode="after")
    def _window(self):
        if self.success_min_paid is not None and self.success_min_paid > self.group_size:
            raise ValueError("success_min_paid must not exceed group_size")
        return _campaign_window(self)


class GroupOrderInput(ShipsToAnAddress, CameFrom):
    """Opening a group (its leader's order) or joining one, at the group price."""

    model_config = ConfigDict(extra="forbid")
    share_token: str | None = Field(None, max_length=64)
    pay_with: Literal["wechat", "balance"] = "wechat"
    points: Int | None = Field(None, ge=1, le=100_000_000, description="points to spend on this order")


# -- which route takes which body ---------------------------------------------------------

# (path as the route declares it, lower-case method) -> the model of its JSON body.
# Every route that reads a body is here (tests/unit/test_openapi.py checks the views).
# PUT /admin/settings is validated by the domain's ShopSettings (storage loads and saves
# the same model); a partial body is merged over the current rules first.
# -- shipping ----------------------------------------------------------------------


class ShipInput(BaseModel):
    """How the order leaves: `express` needs the courier (WeChat's `delivery_id`, from
    `get_delivery_list`) and the tracking number. Shipping a shipped order again with other
    information is the one change WeChat allows; a second change is 409."""

    model_config = ConfigDict(extra="forbid")
    logistics_type: Literal["express", "same_city", "virtual", "pickup"]
    express_company: str | None = Field(None, min_length=1, max_length=128, description="WeChat's delivery_id, e.g. SF, ZTO, YTO")
    tracking_no: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _express_needs_both(self):
        if self.logistics_type == "express" and not (self.express_company and self.tracking_no):
            raise ValueError("express shipping needs express_company and tracking_no")
        return self


# -- members --
class TopUpInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_id: str = Field(min_length=1, max_length=64)


class TopUpPlanInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pay: Int = Field(ge=1, le=10_000_000, description="fen paid, credited to the principal")
    bonus: Int = Field(0, ge=0, le=10_000_000, description="fen given on top, credited to the bonus")


class MemberLevelInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=32)
    min_growth: Int = Field(ge=0)
    discount_bps: Int = Field(0, ge=0, le=9999)


class MemberLevelsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: list[MemberLevelInput] = Field(max_length=50)


class CouponGrantInput(BaseModel):
    """One template to a list of customers (`user_ids`, at most 10,000; each once however
    often listed) or to a tag's members (`tag`): exactly one of them."""

    model_config = ConfigDict(extra="forbid")
    template_id: Id
    user_ids: list[Id] | None = Field(None, min_length=1, max_length=10_000)
    tag: str | None = Field(None, min_length=1, max_length=32)
    note: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _one_kind_of_target(self):
        if (self.user_ids is None) == (self.tag is None):
            raise ValueError("give either user_ids or tag")
        return self


REQUEST_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("/auth/login", "post"): LoginInput,
    ("/cart/items/{sku_id}", "put"): CartLineInput,
    ("/me/addresses", "post"): AddressInput,
    ("/me/addresses/{address_id}", "put"): AddressInput,
    ("/orders", "post"): PlaceOrderInput,
    ("/orders/preview", "post"): PlaceOrderInput,
    ("/stores/{store_id}/redemptions", "post"): RedemptionInput,
    ("/orders/{order_id}/refunds", "post"): RefundInput,
    ("/admin/refunds/{refund_id}/abnormal-refund", "post"): AbnormalRefundInput,
    ("/admin/top-ups/{top_up_id}/abnormal-refund", "post"): AbnormalRefundInput,
    ("/flash-sales/{sale_id}/orders", "post"): OrderInput,
    ("/shares", "post"): ShareInput,
    ("/me/subscriptions", "post"): ConsentInput,
    ("/admin/products", "post"): ProductInput,
    ("/admin/products/{product_id}", "put"): ProductInput,
    ("/admin/coupons", "post"): CouponTemplateInput,
    ("/admin/flash-sales", "post"): SaleInput,
    ("/admin/commission-templates", "post"): CommissionTemplateInput,
    ("/admin/distributors", "post"): DistributorInput,
    ("/admin/managers", "post"): ManagerInput,
    ("/admin/settings", "put"): ShopSettings,
    # -- bargains and friend assistance --
    ("/admin/bargains", "post"): BargainInput,
    ("/bargain-instances/{instance_id}/orders", "post"): BargainOrderInput,
    ("/admin/assist-campaigns", "post"): AssistCampaignInput,
    ("/admin/orders/{order_id}/ship", "post"): ShipInput,
    # -- group buys --
    ("/admin/group-buys", "post"): GroupBuyInput,
    ("/group-buys/{group_buy_id}/groups", "post"): GroupOrderInput,
    ("/groups/{group_id}/orders", "post"): GroupOrderInput,
    # -- members --
    ("/top-ups", "post"): TopUpInput,
    ("/admin/top-up-plans", "post"): TopUpPlanInput,
    ("/admin/member-levels", "put"): MemberLevelsInput,
    # -- coupon grants --
    ("/admin/coupon-grants", "post"): CouponGrantInput,
}


# -- the merchant console's operators --
class OperatorInput(BaseModel):
    """An operator of the console, created by an owner; the password is stored only as an
    scrypt hash."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")
    password: str = Field(min_length=8, max_length=128)
    role: Literal["owner", "operator", "store"]


REQUEST_MODELS[("/admin/operators", "post")] = OperatorInput

# Channels: the mini-program opened.
REQUEST_MODELS[("/visits", "post")] = VisitInput

# The storefront: categories and image uploads.
REQUEST_MODELS[("/admin/categories", "post")] = CategoryInput
REQUEST_MODELS[("/admin/categories/{category_id}", "put")] = CategoryInput
REQUEST_MODELS[("/admin/uploads", "post")] = UploadInput

# Freight templates.
REQUEST_MODELS[("/admin/freight-templates", "post")] = FreightTemplateInput
REQUEST_MODELS[("/admin/freight-templates/{template_id}", "put")] = FreightTemplateUpdateInput

# -- after-sales --
REQUEST_MODELS.update({
    ("/after-sales/uploads", "post"): UploadInput,
    ("/orders/{order_id}/after-sales", "post"): AfterSaleInput,
    ("/after-sales/{after_sale_id}/return", "post"): ReturnShipmentInput,
    ("/admin/after-sales/{after_sale_id}/approve", "post"): AfterSaleNoteInput,
    ("/admin/after-sales/{after_sale_id}/reject", "post"): AfterSaleRejectInput,
    ("/admin/after-sales/{after_sale_id}/receive", "post"): ReceiveInput,
    ("/admin/after-sales/{after_sale_id}/ship", "post"): ShipInput,
    ("/admin/users/{user_id}/coupons", "post"): GoodwillCouponInput,
})

# -- operators: promotions (满减, 满折, 满赠, 第N件, 打包价) ----------------------------------------
# The shapes are checked here (400 with the field); what a kind's tiers may say, and how
# tiers, windows and scopes fit together, by the domain (layers/domain/promotion.py), which
# names the field as well.

ScopeId = Annotated[str, Field(min_length=1, max_length=32, pattern=ID_PATTERN)]


class PromotionTierInput(BaseModel):
    """One tier: from `threshold` fen of in-scope goods at list price, or from `min_quantity`
    in-scope pieces (which one a kind takes: see the kinds), `value`."""

    model_config = ConfigDict(extra="forbid")
    threshold: Int | None = Field(None, ge=1, le=100_000_000, description="fen")
    min_quantity: Int | None = Field(None, ge=1, le=999, description="pieces")
    value: Int = Field(ge=0, le=100_000_000, description=(
        "amount_off: fen off (less than threshold); percent_off: percent paid (1 to 99, 80 is 8折); "
        "gift: units of gift_sku_id (1 to 10); nth_item: percent paid for every min_quantity-th unit "
        "(0 to 99, 50 is 半价); bundle: fen for min_quantity pieces"))


class PromotionScopeInput(BaseModel):
    """Which goods take part: these products and the products of these categories; both
    empty (or no scope): the whole shop."""

    model_config = ConfigDict(extra="forbid")
    product_ids: list[ScopeId] = Field(default_factory=list, max_length=100)
    category_ids: list[ScopeId] = Field(default_factory=list, max_length=100)


class PromotionInput(BaseModel):
    """A promotion. Every order of its goods between `starts_at` and `ends_at` takes part by
    itself (nothing to claim); the best tier reached applies. Orders of a flash sale, group
    buy or bargain are priced by their campaign and take no promotion."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=30)
    kind: Literal["amount_off", "percent_off", "gift", "nth_item", "bundle"]
    tiers: list[PromotionTierInput] = Field(min_length=1, max_length=5)
    gift_sku_id: Id | None = Field(None, description="gift only: the SKU given free, as its own order line")
    scope: PromotionScopeInput | None = None
    starts_at: str = Field(min_length=1, max_length=40, description="RFC 3339 with its offset")
    ends_at: str = Field(min_length=1, max_length=40, description="RFC 3339 with its offset; in the future")
    new_customers_only: Annotated[bool, Strict()] | None = Field(
        None, description="only shoppers with no paid order yet")
    with_coupons: Annotated[bool, Strict()] | None = Field(
        None, description="false: an order this promotion applies to takes no coupon (NOT_WITH_PROMOTION); "
                          "default true")


REQUEST_MODELS[("/admin/promotions", "post")] = PromotionInput


# -- customers, tags ---------------------------------------------------------------------------
TagName = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[^\s,/#]+$")]


class PhoneInput(BaseModel):
    """The code the mini-program's getPhoneNumber button gave (used once, within 5 minutes)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")


class TagRuleInput(BaseModel):
    """A customer holds a rule tag while every condition named holds (recomputed nightly by
    the `retag-customers` job, and on demand)."""

    model_config = ConfigDict(extra="forbid")
    min_orders: Int | None = Field(None, ge=1, le=100_000, description="at least this many paid orders")
    min_spent: Int | None = Field(None, ge=1, le=10_000_000_000, description="fen spent on goods, less refunds")
    last_order_within_days: Int | None = Field(None, ge=1, le=3650, description="ordered in the last N days")
    no_order_for_days: Int | None = Field(None, ge=1, le=3650,
                                          description="no order for N days (or never ordered)")
    level: str | None = Field(None, min_length=1, max_length=32, description="the member level's name")


class TagInput(BaseModel):
    """A tag: manual (no `rule`), set on customers by operators; or a rule tag."""

    model_config = ConfigDict(extra="forbid")
    name: TagName
    rule: TagRuleInput | None = None


class CustomerTagsInput(BaseModel):
    """The customer's manual tags, replacing the ones they had (rule tags stay as the job set them)."""

    model_config = ConfigDict(extra="forbid")
    tags: list[TagName] = Field(max_length=20)


REQUEST_MODELS[("/me/phone", "post")] = PhoneInput
REQUEST_MODELS[("/admin/tags", "post")] = TagInput
REQUEST_MODELS[("/admin/customers/{user_id}/tags", "put")] = CustomerTagsInput


# -- distribution: the promotion pool (推广商品池) ----------------------------------------------

class DistributionPoolInput(BaseModel):
    """The products guides may share: every product (`{"all": true}`, the default) or those
    listed (`{"product_ids": [...]}`: each must exist; duplicates are dropped; at most
    2,000 different ones, else 400; an empty list leaves guides only the shop to share)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["all"], "properties": {"all": {"const": True}}},
        {"required": ["product_ids"], "properties": {"product_ids": {"type": "array"}}}]})

    all: Literal[True] | None = Field(None, description="every product, now and added later")
    product_ids: list[Id] | None = Field(None, max_length=4000, description=(
        "the chosen products, in the order guides see them (duplicates dropped; at most 2,000 different)"))

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.all is None) == (self.product_ids is None):
            raise ValueError('give exactly one of "all": true and "product_ids"')
        return self


REQUEST_MODELS[("/admin/distribution/pool", "put")] = DistributionPoolInput


# -- distribution: recruitment and managers' own guides ------------------------------------------

REQUEST_MODELS[("/distributor-applications", "post")] = DistributorApplicationInput
REQUEST_MODELS[("/admin/distributor-applications/{application_id}/approve", "post")] = ApprovalInput
REQUEST_MODELS[("/admin/distributor-applications/{application_id}/reject", "post")] = RejectionInput
REQUEST_MODELS[("/manager/distributors", "post")] = GroupMemberInput


# -- links for channels (推广链接) -------------------------------------------------------------

class LinkInput(BaseModel):
    """A URL Link, a URL Scheme or a mini-program code opening `path` with `query`, tagged
    with `channel` (layers/domain/links.py has the rules and docs/links.md WeChat's limits)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["url_link", "url_scheme", "qrcode"]
    path: str = Field(min_length=1, max_length=128, description="a page of the published mini-program, e.g. pages/product/index")
    query: str | None = Field(None, max_length=1024, description=(
        "key=value pairs joined by &, of letters, digits and !#$&'()*+,/:;=?@-._~%; `channel=<tag>` is added "
        "(a code's scene gets `c=<tag>` and must fit 32 characters)"))
    channel: str = Field(pattern=r"^[a-z0-9_-]{1,24}$", description="the traffic source's tag, e.g. moments, sms_1212")
    expires_in_days: Int | None = Field(None, ge=1, le=30, description=(
        "links only (30 by default); a mini-program code does not expire"))


REQUEST_MODELS[("/admin/links", "post")] = LinkInput


# -- stores (门店) -----------------------------------------------------------------------------

class LocationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Annotated[float, Strict()] = Field(ge=-90, le=90, allow_inf_nan=False,
                                            description="latitude, GCJ-02 degrees (as wx.getLocation gives them)")
    lng: Annotated[float, Strict()] = Field(ge=-180, le=180, allow_inf_nan=False,
                                            description="longitude, GCJ-02 degrees")


class StoreInput(BaseModel):
    """A store, whole (layers/domain/stores.py has the rules; docs/stores.md why)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=40)
    address: str = Field(min_length=1, max_length=120)
    location: LocationInput
    phone: str = Field(min_length=5, max_length=30, description=(
        "the store's business number: digits, optional leading +, and - ( ) or spaces; 5 to 20 digits"))
    hours: str = Field(min_length=1, max_length=60, description="opening hours as shoppers read them, e.g. 10:00-22:00")
    pickup: Annotated[bool, Strict()] = Field(description="whether shoppers may collect orders here")
    version: Int | None = Field(None, ge=1, description=(
        "PUT only: the version the edit was made from; a store changed since is 409 STORE_CHANGED. "
        "Without it the edit is last-writer-wins"))


class StaffInput(BaseModel):
    """Exactly one: a console operator's name, or a distributor's user id (a guide). A person
    is staff of one store at most: adding them here moves them (`moved_from`)."""

    model_config = ConfigDict(extra="forbid")
    operator_id: str | None = Field(None, min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")
    user_id: Id | None = None


REQUEST_MODELS[("/admin/stores", "post")] = StoreInput
REQUEST_MODELS[("/admin/stores/{store_id}", "put")] = StoreInput
REQUEST_MODELS[("/admin/stores/{store_id}/staff", "post")] = StaffInput
