"""The day's numbers, the shop rules and the operators (the last two: the owner only),
and `POST /admin/operators` (JSON, by the owner: the ADMIN_API_KEY is the first owner's key)."""

from __future__ import annotations

import functools
import re

from functions import schemas, wiring
from functions._api import created, is_validation_error, parse_body, require_admin, route
from functions.console._kit import _form, _query, bp, console_page, redirect
from layers.domain import errors

# -- the day's numbers --------------------------------------------------------------------------

@console_page("/console/dashboard")
def dashboard(ctx):
    from datetime import timedelta

    from layers.clock import iso
    from layers.domain.analytics import day_of

    today = wiring.clock().now()
    last = _query("to") or day_of(iso(today))
    first = _query("from") or day_of(iso(today - timedelta(days=6)))
    rows = wiring.analytics().daily(first, last)["items"]
    return ctx.page("dashboard.html", rows=rows, first=first, last=last)


# -- settings (owner only) ----------------------------------------------------------------------
# Each rule as a manager reads it: grouped, labelled, in the unit a person types (minutes,
# days, yuan, percent), with what it does. The API keeps its names and units (seconds, fen,
# basis points); `_to_api` and `_shown` convert exactly, and a value the unit cannot hold
# (1.5 minutes) is refused on the form, not rounded.

MINUTE, DAY_S = 60, 86400
# Each subscription message's template: its id, then one field per value of the message
# holding the keyword of the merchant's template that carries it (layers/domain/subscription.py).
VALUE_LABELS = {"order_id": "订单号", "amount": "金额", "expires_at": "关闭时间", "note": "说明",
                "coupon_name": "优惠券名称", "valid_until": "到期时间", "title": "活动名称", "starts_at": "开始时间",
                "address": "寄回地址", "reason": "拒绝原因"}
MESSAGE_VALUE_LABELS = {("order_unpaid", "amount"): "待付金额", ("order_paid", "amount"): "实付金额",
                        ("group_expiring", "note"): "成团进度", ("group_expiring", "expires_at"): "到期时间",
                        ("pickup_expiring", "expires_at"): "取货截止时间"}
KIND_NAMES = {"character_string": "字符串(character_string)", "amount": "金额(amount)", "thing": "事物(thing)",
              "time": "时间(time)", "date": "日期(date)"}


def _message_rows(kind: str, label: str, help_: str) -> tuple:
    from layers.domain.subscription import DEFAULT_FIELDS, MESSAGES, SHOWN_IN

    rows = [(f"subscription_templates.{kind}", label, "template", help_)]
    for name, (value_kind, needed) in MESSAGES[kind].items():
        shown = "或".join(KIND_NAMES.get(k, k) for k in SHOWN_IN[value_kind])
        hint = (f"模板里显示{_value_label(kind, name)}的关键词,类型为{shown},如 {DEFAULT_FIELDS[kind][name]}"
                + ("" if needed else ";模板里没有就留空"))
        rows.append((f"subscription_templates.{kind}.{name}", _value_label(kind, name), "keyword", hint))
    return tuple(rows)


def _value_label(kind: str, name: str) -> str:
    return MESSAGE_VALUE_LABELS.get((kind, name), VALUE_LABELS.get(name, name))


def _layout_message(kind: str, name: str, code: str) -> str:
    """A layout problem (layers.domain.subscription.layout_problems) as the form words it."""
    from layers.domain.subscription import MESSAGES, SHOWN_IN

    if code == "not_a_keyword":
        return "不是微信的关键词:应为类型加编号,如 thing1、amount2、time3"
    if code == "wrong_kind":
        kinds = "或".join(KIND_NAMES.get(k, k) for k in SHOWN_IN[MESSAGES[kind][name][0]])
        return f"这一项只能放在{kinds}类型的关键词里"
    if code == "duplicate":
        return "和上面另一项填了同一个关键词"
    if code == "missing":
        return "这条消息需要这一项:请填写模板里对应的关键词"
    return "填写的值无效"


SETTINGS_FORM = (
    ("订单", (
        ("order_payment_timeout_s", "未付款订单自动关闭", "minutes",
         "下单后这么久仍未付款,订单关闭并释放库存和优惠券。"),
        ("auto_confirm_receipt_s", "发货后自动确认收货", "days",
         "买家一直未确认收货时,发货这么多天后自动确认收货(之后才可结算佣金)。"),
        ("pickup_window_s", "自提订单取货期限", "days",
         "门店自提订单付款后这么多天内未到店核销,自动全额退款;到期前一天提醒已订阅的买家。"),
    )),
    ("售后", (
        ("after_sales_window_s", "确认收货后可申请售后", "days", "确认收货这么多天内,买家可以申请退款、退货或换货;填 0 为确认收货后不再受理。"),
        ("return_window_s", "退货寄回期限", "days", "同意退货或换货后,买家须在这么多天内寄回并填写物流单号,否则售后关闭。"),
        ("after_sales_auto_approve_s", "售后申请自动同意", "days", "买家的售后申请这么多天没有处理,系统自动同意;填 0 为不自动同意。"),
        # The shop's own address, but a name and a phone: shown to an owner here, to a
        # shopper only once their return is approved, never written to the audit log.
        ("return_address.name", "退货收件人", "address",
         "同意退货或换货后,买家把商品寄到这里;三项须一起填写,都留空为不设置(不设置则不能同意退货和换货)。"),
        ("return_address.phone", "退货电话", "address", "收件人的电话,只告诉退货申请已获同意的买家。"),
        ("return_address.detail", "退货地址", "address", "省、市、区和详细地址。"),
    )),
    ("发货与运费", (
        ("shipping_fee", "运费", "yuan", "每笔订单的统一运费;填 0 为包邮。"),
        ("free_shipping_threshold", "满额包邮", "yuan", "商品金额达到这个数免运费;填 0 为不设包邮门槛。"),
    )),
    ("分销与结算", (
        ("share_binding_ttl_s", "分享绑定有效期", "days",
         "买家通过分销员的分享进入后,这么多天内下单都算该分销员的;填 0 为只算当次。"),
        ("commission_freeze_s", "佣金冻结期", "days", "确认收货后佣金冻结这么多天(期间退款会冲销佣金),之后可结算。"),
        ("max_commission_bps", "佣金比例上限", "percent",
         "商品和分销员等级设置的佣金比例都不能超过这个比例,防止误填(如把 10% 填成 100%)。"),
        ("settlement_mode", "结算方式", "select", "自动:按批次通过微信转账打款给分销员;手动:生成打款清单,线下打款后在“结算与打款”标记。"),
        ("payout_max_fen", "单笔打款上限", "yuan", "超过这个金额的打款拆成多笔(须低于 2000 元,否则微信要求收款人实名)。"),
        ("transfer_authorization", "请分销员开通免确认收款", "switch",
         "打开后,分销员第一次确认收款时请其授权免确认收款;授权后结算直接到账,无需分销员逐笔确认。"),
        ("transfer_display_name", "转账备注", "text", "分销员在微信收款记录里看到的说明,最多 32 个字。"),
        ("distributor_recruitment", "招募分销员", "select",
         "买家在小程序申请成为分销员时:开放加入为立即通过;需要审核为在“分销员申请”里逐个处理;暂停招募为不接受申请。"),
        ("distributor_template_id", "默认佣金方案", "commission_template",
         "通过申请的分销员所用的佣金方案(审核时未选方案、其团队长也没有方案时);开放加入须设置。"),
    )),
    ("会员与积分", (
        ("points_per_yuan", "每消费 1 元得积分", "int", "付款后按实付金额(元)发积分,确认收货后才能使用;填 0 为不送积分。"),
        ("point_value_fen", "1 积分抵", "yuan", "下单抵扣时每个积分抵多少钱。"),
        ("points_max_ratio_bps", "积分最多抵扣", "percent", "一笔订单的商品金额最多可用积分抵扣的比例。"),
    )),
    ("消息", tuple(
        (f"subscription_templates.{kind}", label, "template", help_) for kind, label, help_ in (
            ("order_unpaid", "待付款提醒", "订单快到自动关闭时间时提醒买家付款。"),
            ("order_paid", "付款成功通知", "买家付款后通知。"),
            ("coupon_expiring", "优惠券到期提醒", "买家的优惠券快过期时提醒。"),
            ("flash_sale_start", "秒杀开始提醒", "买家订阅的秒杀开始时提醒。"),
            ("group_expiring", "拼团即将到期提醒", "团长的团还差人且 30 分钟内到期时提醒。"),
            ("after_sale_approved", "售后申请通过通知", "同意售后申请后通知买家;退货、换货附上寄回地址。"),
            ("after_sale_refunded", "售后退款成功通知", "售后退款到账后通知买家。"),
            ("after_sale_rejected", "售后申请被拒通知", "拒绝售后申请后通知买家,附上拒绝原因。"),
            ("coupon_received", "优惠券到账通知", "商家定向发券或补偿发券后通知买家。"),
            ("pickup_expiring", "自提即将到期提醒", "自提订单取货期限前一天提醒买家到店取货。"),
        ))),
)


@functools.cache
def _settings_form() -> tuple:
    """SETTINGS_FORM with each template followed by its keyword fields (built on first
    use: the messages' values live in the domain, which a cold start does not load)."""
    return tuple((title, tuple(row for key, label, kind, help_ in fields for row in (
        _message_rows(key.split(".")[1], label, help_) if kind == "template" else ((key, label, kind, help_),))))
        for title, fields in SETTINGS_FORM)
SETTLEMENT_MODES = (("auto", "自动打款(微信转账)"), ("manual", "手动打款(线下)"))
RECRUITMENT_MODES = (("open", "开放加入"), ("approval", "需要审核"), ("closed", "暂停招募"))
# Each select's options (code, label) and what the form says when a forged value comes.
SELECTS = {"settlement_mode": (SETTLEMENT_MODES, "请选择一种结算方式"),
           "distributor_recruitment": (RECRUITMENT_MODES, "请选择一种招募方式")}
UNITS = {"minutes": "分钟", "days": "天", "yuan": "元", "percent": "%", "int": "积分"}


def settings_change(before: dict, after: dict) -> str | None:
    """The audit line of a change to the shop's rules, as the settings page words them
    (`结算方式: 自动打款(微信转账) → 手动打款(线下)`); the rules hold no personal data, so
    values are shown, except the return address (a name and a phone). A message's
    template only says that it changed."""
    rows = {key: (label, kind) for _, fields in SETTINGS_FORM for key, label, kind, _ in fields}
    changed = []
    for key in sorted(after):
        old, new = before.get(key), after[key]
        if old == new:
            continue
        if key == "subscription_templates":
            for kind in sorted(set(old or {}) | set(new or {})):
                if (old or {}).get(kind) != (new or {}).get(kind):
                    label = rows.get(f"subscription_templates.{kind}", (kind, ""))[0]
                    changed.append(f"{label}: 模板已{'修改' if (new or {}).get(kind) else '清除'}")
            continue
        if key == "return_address":  # a name and a phone: the line says only that it changed
            changed.append(f"退货地址: 已{'修改' if new else '清除'}")
            continue
        label, kind = rows.get(key, (key, "text"))
        changed.append(f"{label}: {_worded(kind, old, key)} → {_worded(kind, new, key)}")
    return "; ".join(changed)[:1000] or None


def _worded(kind: str, value, key: str = "") -> str:
    if value is None:
        return "(未设置)"
    if kind == "select":
        return dict(SELECTS.get(key, ((), ""))[0]).get(value, str(value))
    if kind == "commission_template":
        return f"“{value}”"
    if kind == "switch":
        return "开" if value else "关"
    if kind == "text":
        return f"“{value}”"
    return _shown(kind, value) + UNITS.get(kind, "")


def _plain(number) -> str:
    """A Decimal without trailing zeros or an exponent (`7`, `0.5`)."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _shown(kind: str, value) -> str:
    """The API's value as the form shows it, in the field's unit."""
    from decimal import Decimal

    if value is None:
        return ""
    if kind == "minutes":
        return _plain(Decimal(value) / MINUTE)
    if kind == "days":
        return _plain(Decimal(value) / DAY_S)
    if kind == "yuan":
        return _plain(Decimal(value) / 100)
    if kind == "percent":
        return _plain(Decimal(value) / 100)
    return str(value)


def _to_api(kind: str, text: str):
    """What was typed, in the API's unit; ValueError with the form's message."""
    from decimal import Decimal, InvalidOperation

    text = (text or "").strip()
    if kind in ("text", "template", "keyword", "select", "address"):
        return text
    if kind == "commission_template":
        return text or None  # not chosen: no default template
    if not text:
        raise ValueError("请填写")
    # ASCII digits only: Decimal also takes `١٢`, `1_000` and `1e999999` (whose scaling
    # overflows), none of which an operator meant.
    if not re.fullmatch(r"[+-]?[0-9]{1,12}(\.[0-9]{1,12})?", text):
        raise ValueError("请填写数字")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("请填写数字") from None
    if not number.is_finite():
        raise ValueError("请填写数字")
    scale = {"minutes": MINUTE, "days": DAY_S, "yuan": 100, "percent": 100, "int": 1}[kind]
    exact = number * scale
    if exact != exact.to_integral_value() or (kind in ("minutes", "int") and number != number.to_integral_value()):
        raise ValueError({"minutes": "请填写整数分钟", "days": "天数最多精确到秒", "yuan": "金额最多两位小数",
                          "percent": "比例最多两位小数", "int": "请填写整数"}[kind])
    return int(exact)


def _bound_message(kind: str, error: dict) -> str:
    """A pydantic bound error in the field's unit (`须在 1 到 10080 分钟之间`)."""
    ctx = error.get("ctx") or {}
    unit = UNITS.get(kind, "")
    if "ge" in ctx and error.get("type") == "greater_than_equal":
        return f"不能小于 {_shown(kind, ctx['ge'])} {unit}".rstrip()
    if "le" in ctx:
        return f"不能大于 {_shown(kind, ctx['le'])} {unit}".rstrip()
    if "lt" in ctx:
        return f"须小于 {_shown(kind, ctx['lt'])} {unit}".rstrip()
    if error.get("type", "").startswith("string_too_long"):
        return f"最多 {ctx.get('max_length')} 个字"
    if error.get("type", "").startswith("string_too_short"):
        return "请填写"
    if error.get("type") == "string_pattern_mismatch":
        return "只能填写数字、+、- 和空格"
    return "填写的值无效"


def _settings_page(ctx, values: dict, status: int = 200, errors_: dict | None = None, typed: dict | None = None):
    groups = []
    for title, fields in _settings_form():
        rows = []
        for key, label, kind, help_ in fields:
            if kind == "template":
                template = (values.get("subscription_templates") or {}).get(key.split(".")[1])
                value = template["template_id"] if template else ""
            elif kind == "keyword":
                value = _keyword_shown(values, *key.split(".")[1:3])
            elif kind == "address":
                value = (values.get("return_address") or {}).get(key.split(".")[1])
            else:
                value = values.get(key)
            shown = (typed or {}).get(key, _shown(kind, value) if kind != "switch" else value)
            rows.append({"key": key, "label": label, "kind": kind, "help": help_, "value": shown,
                         "unit": UNITS.get(kind, ""), "error": (errors_ or {}).get(key),
                         "options": _options(kind, key, shown)})
        groups.append((title, rows))
    return ctx.page("settings.html", status, groups=groups, error_count=len(errors_ or {}))


def _options(kind: str, key: str, value) -> tuple:
    """A select's options as (code, label): the fixed ones, or the commission templates by
    name (blank: none; a template no longer listed is still offered, by its id, so saving
    the form does not silently change it)."""
    if kind == "select":
        return SELECTS[key][0]
    if kind != "commission_template":
        return ()
    templates = wiring.distribution().all_rows(wiring.distribution().list_templates)
    options = [("", "不设置"), *((t["id"], t["name"]) for t in templates)]
    if value and value not in {t["id"] for t in templates}:
        options.append((value, f"已删除的方案 {value}"))
    return tuple(options)


def _keyword_shown(values: dict, kind: str, name: str) -> str:
    """The keyword carrying `name` in the saved layout; today's default while no template is set."""
    from layers.domain.subscription import DEFAULT_FIELDS

    template = (values.get("subscription_templates") or {}).get(kind)
    if template is None:
        return DEFAULT_FIELDS[kind].get(name, "")
    return template["fields"].get(name, "")


@console_page("/console/settings", area="settings")
def settings_page(ctx):
    return _settings_page(ctx, wiring.shop_settings().get())


@console_page("/console/settings", methods=("POST",), area="settings")
def settings_save(ctx):
    """Every field of the form, converted to the API's units and checked as
    `PUT /admin/settings` checks it; any wrong field: the form again with each message
    next to its field, and nothing saved."""
    form = _form()
    kinds = {key: kind for _, fields in _settings_form() for key, _, kind, _ in fields}
    partial, templates, layouts, problems, address = {}, {}, {}, {}, {}
    for key, kind in kinds.items():
        if key not in form:
            continue  # a field the form did not send (an older page): left as it is
        if kind == "switch":  # the checkbox's "1" comes before its hidden "0" (parse_qs: the first)
            partial[key] = form[key] == "1"
            continue
        try:
            value = _to_api(kind, form[key])
        except ValueError as exc:
            problems[key] = str(exc)
            continue
        if kind == "template":
            if value:
                templates[key.split(".")[1]] = value
        elif kind == "keyword":
            message, name = key.split(".")[1:3]
            if value:
                layouts.setdefault(message, {})[name] = value
        elif kind == "address":
            address[key.split(".")[1]] = value
        elif kind == "select" and value not in dict(SELECTS[key][0]):
            problems[key] = SELECTS[key][1]
        else:
            partial[key] = value
    if address:
        _address_from_form(address, partial, problems)
    if any(kind == "template" and key in form for key, kind in kinds.items()):
        partial["subscription_templates"] = _templates_from_form(templates, layouts, problems)
    if not problems:
        try:
            from functions._audit import settings_change

            before = wiring.shop_settings().get()
            after = wiring.shop_settings().update(partial)
            wiring.operators().audit(ctx.session, "settings.update", "SETTINGS", detail=settings_change(before, after))
            return redirect("/console/settings", flash="saved")
        except (errors.NoTemplate, errors.UnknownTemplate) as exc:  # the recruitment rules' own checks
            problems["distributor_template_id"] = (
                "开放加入会立即通过申请:请同时选择默认佣金方案" if isinstance(exc, errors.NoTemplate)
                else "佣金方案不存在,请重新选择")
        except Exception as exc:
            if not is_validation_error(exc):
                raise
            for e in exc.errors():
                loc = [str(part) for part in e.get("loc", ())]
                key = ".".join(loc[:2]) if loc and loc[0] in ("subscription_templates", "return_address") \
                    else (loc[0] if loc else "")
                problems[key if key in kinds else "_"] = _bound_message(kinds.get(key, ""), e)
    typed = {key: form.get(key, "") for key in kinds if kinds[key] != "switch"}
    typed.update({key: form.get(key) == "1" for key in kinds if kinds[key] == "switch"})
    return _settings_page(ctx, wiring.shop_settings().get(), 400, problems, typed)


def _address_from_form(address: dict, partial: dict, problems: dict) -> None:
    """The return address: all three fields, or none (cleared); one left blank is named."""
    if not any(address.values()):
        partial["return_address"] = None
    elif all(address.get(part) for part in ("name", "phone", "detail")):
        partial["return_address"] = {part: address[part] for part in ("name", "phone", "detail")}
    else:
        for part in ("name", "phone", "detail"):
            if not address.get(part):
                problems[f"return_address.{part}"] = "请填写:收件人、电话和地址须一起填写"


def _templates_from_form(ids: dict, layouts: dict, problems: dict) -> dict:
    """Each message with a template id, with the keywords typed for it (none typed: the
    default layout); a layout that cannot be sent puts its message next to its field."""
    from layers.domain.subscription import layout_problems

    templates = {}
    for kind, template_id in ids.items():
        fields = layouts.get(kind)
        if not fields:
            templates[kind] = template_id
            continue
        for name, (code, _) in layout_problems(kind, fields).items():
            problems[f"subscription_templates.{kind}.{name}"] = _layout_message(kind, name, code)
        templates[kind] = {"template_id": template_id, "fields": fields}
    return templates


# -- operators and the audit log (owner only) ---------------------------------------------------

@console_page("/console/operators", area="operators")
def operators_page(ctx):
    service = wiring.operators()
    return ctx.page("operators.html", operators=service.list(ctx.session), audit=service.audit_log(_query("day")))


@console_page("/console/operators", methods=("POST",), area="operators")
def operators_create(ctx):
    form = _form()
    wiring.operators().create(ctx.session, form.get("name", ""), form.get("password", ""),
                              form.get("role", "operator"))
    return redirect("/console/operators")


# -- the JSON API: operators, by the owner --------------------------------------------------------

@route(bp, "/admin/operators", methods=["POST"])
def create_operator():
    require_admin(bp)
    from layers.services.operators import Session

    body = parse_body(bp, schemas.OperatorInput)
    return created(wiring.operators().create(Session("owner", "owner"), body.name, body.password, body.role))


@route(bp, "/admin/operators/{name}/unlock", methods=["POST"])
def unlock_operator(name):
    """The owner lifts a name's sign-in locks (the console's unlock button, as JSON)."""
    require_admin(bp)
    from layers.services.operators import Session

    owner = Session("owner", "owner")
    service = wiring.operators()
    cleared = service.unlock(owner, name)
    service.audit(owner, "operator.unlock", name, detail=f"{cleared} counters")
    return {"name": name, "cleared": cleared}
