"""What the console's Chinese pages say for an error.

Domain errors carry English messages (the JSON API's prose). A page shows Chinese text
chosen by the error's code (or, failing that, its kind), with the code beside it; a
message the console itself wrote in Chinese (form parsing in `_kit`) is shown as it is.
"""

from __future__ import annotations

import re

_ENGLISH_PROSE = re.compile(r"[A-Za-z]{3,}[ :,]+[A-Za-z]{3,}")

BY_CODE = {
    "UNAUTHORIZED": "请先登录",
    "INVALID_CODE": "登录凭证无效,请重新登录",
    "FORBIDDEN": "没有权限执行此操作",
    "NOT_FOUND": "找不到要操作的对象(可能已被删除或编号有误)",
    "SOLD_OUT": "库存不足",
    "LIMIT_EXCEEDED": "超出限制",
    "ALREADY_CLAIMED": "已经领取过",
    "INVALID_STATE": "当前状态不允许此操作,请刷新页面查看最新状态",
    "IN_PROGRESS": "正在处理中,请稍后刷新查看",
    "STOCK_CHANGED": "库存已变化,请刷新后重试",
    "NOT_STARTED": "活动尚未开始",
    "ENDED": "活动已结束",
    "COUPON_NOT_APPLICABLE": "优惠券不可用",
    "IDEMPOTENCY_KEY_REUSED": "该表单已提交过不同的内容,请刷新页面后重新填写",
    "NOT_ACCEPTABLE": "无法办理该请求(金额超出可办理范围,或被微信支付拒绝)",
    "RATE_LIMITED": "操作太频繁或对象正忙,请稍后再试",
    "UPSTREAM_UNAVAILABLE": "微信支付暂时无法响应,请稍后重试(本次未做任何更改)",
    "INVALID_REQUEST": "填写的内容有误,请检查后重试",
    "UNKNOWN_IMAGE": "图片不是本店上传的,请重新上传",
    "IN_USE": "仍有商品或子分类在使用,不能删除",
    "UNDELIVERABLE": "收货地址所在省份不在配送范围内",
    "UNKNOWN_FREIGHT_TEMPLATE": "运费模板不存在,请重新选择",
    "AMOUNT_TOO_LARGE": "金额超过可退金额",
    "AFTER_SALE_OPEN": "这些商品已有进行中的售后",
    "AFTER_SALES_CLOSED": "已超过售后期限",
    "CSRF": "表单已失效(CSRF 校验失败),请刷新页面重试",
    "NOT_IN_POOL": "该商品不在推广商品池中,分销员不能分享",
    "ALREADY_REDEEMED": "该提货码已核销,不能重复核销",
    "RECRUITMENT_CLOSED": "本店暂不招募分销员",
    "ALREADY_DISTRIBUTOR": "该用户已经是分销员",
    "APPLICATION_DECIDED": "这份申请已经处理过,请刷新页面查看最新状态",
    "NO_TEMPLATE": "没有可用的佣金方案:请选择一个,或给团队长设置佣金方案,或在店铺设置里设置默认佣金方案",
    "UNKNOWN_TEMPLATE": "佣金方案不存在,请重新选择",
    "INVALID_PAGE": "微信找不到这个页面:页面路径须是已发布的小程序里存在的页面",
    "LINK_QUOTA_EXCEEDED": "微信今天可生成的链接数已用完或生成太快,请稍后(或明天)再试",
    "LINKS_NOT_ALLOWED": "微信不允许本小程序生成链接(仅国内非个人主体的小程序可以),或生成权限已被封禁",
    "IN_ANOTHER_GROUP": "该分销员已在其他团队长的团队中",
    "EXPORTS_UNAVAILABLE": "导出暂不可用:没有配置存放导出文件的存储桶",
    "STORE_CHANGED": "门店信息已被其他人修改,请刷新页面后重新编辑",
    "PICKUP_NOT_OFFERED": "该门店不提供自提",
    "UNKNOWN_OPERATOR": "没有这个操作员(或已停用),请重新选择",
    "NOT_A_DISTRIBUTOR": "该用户还不是分销员,只有分销员可以成为门店导购",
}
BY_KIND = {
    "invalid": "填写的内容有误,请检查后重试",
    "unauthorized": "请先登录",
    "forbidden": "没有权限执行此操作",
    "not_found": "找不到要操作的对象",
    "conflict": "当前状态不允许此操作",
    "unprocessable": "无法处理该请求",
    "rate_limited": "操作太频繁,请稍后再试",
    "unavailable": "服务暂时不可用,请稍后重试",
}
GENERIC = "操作未能完成"
FIELD_NAMES = {"amount": "金额", "reason": "原因", "bank_type": "开户银行", "bank_account": "卡号",
               "real_name": "户名", "type": "退款去向", "express_company": "快递公司", "tracking_no": "运单号",
               "logistics_type": "物流方式", "password": "密码", "name": "名称", "status": "状态",
               "from": "开始日期", "to": "结束日期", "phone": "手机号",
               # the storefront's forms: products and categories
               "title": "标题", "images": "商品图片", "detail_images": "详情图", "description": "商品描述",
               "category_id": "分类", "tags": "标签", "sort_weight": "排序值", "parent_id": "上级分类",
               "image_url": "分类图片", "content_type": "图片类型", "size": "图片大小", "spec": "规格",
               "list_price": "划线价", "weight_g": "重量", "price": "价格", "stock": "库存", "skus": "规格",
               # the admin API's other bodies, as the audit log names what a change sent
               "sku_id": "商品规格", "starts_at": "开始时间", "ends_at": "结束时间", "per_user_limit": "每人限购",
               "group_size": "成团人数", "group_ttl_s": "成团时限", "success_min_paid": "最少成团人数",
               "floor_price": "底价", "helpers_needed": "所需人数", "ttl_s": "时限",
               "helps_per_user_per_day": "每人每天帮助次数", "reward_coupon_template_id": "奖励优惠券",
               "new_users_only": "仅限新用户", "kind": "类型", "value": "面额", "threshold": "门槛",
               "max_discount": "最高优惠", "claim_starts_at": "领取开始", "claim_ends_at": "领取结束",
               "valid_from": "生效时间", "valid_until": "失效时间", "valid_days": "有效天数", "total": "发放总量",
               "shards": "分片数", "expected_attempts_per_s": "预计每秒抢购", "tiers": "等级", "rate_bps": "佣金比例",
               "user_id": "用户", "template_id": "模板", "manager_id": "管理员", "commission": "佣金",
               "active": "上架", "category": "类目", "role": "角色", "levels": "会员等级", "pay": "支付金额",
               "bonus": "赠送金额", "plan_id": "充值方案", "stock_delta": "库存增减", "expected_stock": "原库存",
               "quantity": "数量", "note": "备注", "restock": "退回库存",
               # freight templates, and a product's
               "charge_by": "计费方式", "default": "默认运费", "regions": "指定地区运费", "free": "包邮条件",
               "undeliverable": "不配送地区", "freight_template_id": "运费模板", "version": "版本",
               "first": "首件(首重)", "first_fee": "首费", "additional": "续件(续重)", "additional_fee": "续费",
               "provinces": "省份", "min_amount": "包邮金额", "min_pieces": "包邮件数",
               # promotions
               "gift_sku_id": "赠品", "scope": "参加的商品", "new_customers_only": "仅限新客",
               "with_coupons": "可用优惠券", "product_ids": "商品", "category_ids": "分类",
               # recruitment
               "distributor_recruitment": "分销员招募方式", "distributor_template_id": "默认佣金方案",
               # links for channels (推广链接)
               "path": "页面路径", "query": "页面参数", "channel": "渠道标签", "expires_in_days": "有效天数",
               # stores (门店)
               "address": "地址", "lat": "纬度", "lng": "经度", "location": "位置",
               "hours": "营业时间", "pickup": "自提", "operator_id": "操作员", "month": "月份"}


def field_label(name: str) -> str:
    """A field's name for people: its Chinese label, or the name itself where none is known."""
    return FIELD_NAMES.get(name, name)


def _chinese(text: str | None) -> bool:
    """Written in Chinese by the console (not English prose around a Chinese fragment,
    such as WeChat's own message quoted in a domain error)."""
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text) and not _ENGLISH_PROSE.search(text)


def message_for(code: str | None, kind: str | None = None, message: str | None = None) -> str:
    """Chinese text for an error: the message itself when the console wrote it in Chinese,
    else by code, else by kind, else a generic sentence (the page shows the code too)."""
    if _chinese(message):
        return message
    return BY_CODE.get(code or "") or BY_KIND.get(kind or "") or GENERIC


def field_message(fields: list[str]) -> str:
    """A form that failed validation: which fields (their names are the form's)."""
    named = "、".join(dict.fromkeys(FIELD_NAMES.get(f, f) for f in fields if f)) or "表单"
    return f"填写的内容有误:{named}"
