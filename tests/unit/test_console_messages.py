"""The console's pages speak Chinese: a domain error's English message is
replaced by Chinese text chosen by its code, or kind, or a generic sentence."""

from __future__ import annotations

from functions.console.messages import BY_CODE, GENERIC, field_message, message_for
from layers.domain import errors


def test_every_domain_error_code_has_chinese_text():
    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.DomainError)}
    assert codes <= set(BY_CODE)
    for code in codes:
        assert not any("a" <= ch.lower() <= "z" for ch in BY_CODE[code].replace("CSRF", ""))


def test_english_prose_never_reaches_the_page():
    assert message_for("INVALID_STATE", "conflict", "a SHIPPED order cannot be refunded") == BY_CODE["INVALID_STATE"]
    quoted = "WeChat Pay refused it: NO_AUTH 商户无权限"  # a Chinese fragment inside English prose
    assert message_for("NOT_ACCEPTABLE", "unprocessable", quoted) == BY_CODE["NOT_ACCEPTABLE"]
    assert message_for("SOMETHING_NEW", "conflict", "what happened") == "当前状态不允许此操作"
    assert message_for("SOMETHING_NEW", "odd", "what happened") == GENERIC
    assert message_for("INVALID_REQUEST", "invalid", "退款金额:金额最多两位小数") == "退款金额:金额最多两位小数"


def test_a_form_that_failed_validation_names_its_fields_in_chinese():
    assert field_message(["amount", "reason", "amount"]) == "填写的内容有误:金额、原因"
    assert field_message([""]) == "填写的内容有误:表单"
