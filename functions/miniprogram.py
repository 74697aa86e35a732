"""The WeChat mini-program platform: the message push (URL check and events), share
codes, and the operators' view of an order's shipping upload."""

from __future__ import annotations

from chalice import Blueprint, Response

from functions import wiring
from functions._api import require_admin, route

bp = Blueprint(__name__)

# WeChat posts JSON (plaintext or safe mode); some setups label it text/plain.
PUSH_CONTENT_TYPES = ["application/json", "text/plain", "text/xml", "application/xml"]


def _query() -> dict:
    return dict(bp.current_request.query_params or {})


@route(bp, "/wechat/message-push", methods=["GET"])
def message_push_check():
    echostr = wiring.message_push().url_check(_query())
    return Response(body=echostr, status_code=200, headers={"Content-Type": "text/plain"})


@route(bp, "/wechat/message-push", methods=["POST"], content_types=PUSH_CONTENT_TYPES)
def message_push():
    answer = wiring.message_push().receive(_query(), bp.current_request.raw_body)
    return Response(body=answer, status_code=200, headers={"Content-Type": "text/plain"})


@route(bp, "/shares/{share_token}/qrcode", methods=["GET"])
def share_qrcode(share_token):
    image, content_type = wiring.share_codes().qrcode(share_token)
    return Response(body=image, status_code=200,
                    headers={"Content-Type": content_type, "Cache-Control": "public, max-age=86400"})


@route(bp, "/admin/orders/{order_id}/shipping", methods=["GET"])
def order_shipping(order_id):
    require_admin(bp)
    return wiring.shipping().get_upload(order_id)


@route(bp, "/admin/orders/{order_id}/shipping/retry", methods=["POST"])
def retry_shipping_upload(order_id):
    require_admin(bp)
    return wiring.shipping().retry(order_id)
