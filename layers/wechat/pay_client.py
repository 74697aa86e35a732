"""WeChat Pay APIv3, outbound: every request signed with the merchant key, every answer's
signature verified before it is believed. Callers retry failures with the same ids
(out_trade_no, out_refund_no, out_bill_no), never new ones."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

from layers.domain.payment_gateway import (
    FrequencyLimited,
    OrderNotFoundAtWeChat,
    ResponseNotVerified,
    WeChatPayError,
    WeChatPayUnavailable,
)
from layers.wechat import paycrypto
from layers.wechat.http import Http, TransportError
from layers.wechat.pay_notify import NotificationError, NotificationVerifier, WeChatPayKeys

BEIJING = timezone(timedelta(hours=8))
__all__ = ["OrderNotFoundAtWeChat", "WeChatPayClient", "WeChatPayError", "WeChatPayUnavailable"]


def beijing_rfc3339(moment: datetime) -> str:
    """WeChat's time format: RFC 3339 with the +08:00 offset, whole seconds."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


def fit_utf8(text: str, max_bytes: int, bmp_only: bool = False) -> str:
    """`text` within `max_bytes` UTF-8 bytes, cut after a whole character.

    WeChat Pay counts a field's `string(N)` in UTF-8 bytes, not characters: a refund
    `reason` (80) holds 26 Chinese characters, a prepay `description` (127) 42. With
    `bmp_only`, characters of 4 bytes (emoji) are left out: the description refuses them.
    The result depends on `text` alone, so a prepay asked again sends the same body."""
    if bmp_only:
        text = "".join(ch for ch in text if ord(ch) <= 0xFFFF)
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


class WeChatPayClient:
    def __init__(self, mchid: str, appid: str, merchant_serial: str, merchant_private_key_pem: str,
                 apiv3_key: str, api_base: str, keys: WeChatPayKeys,
                 session: Http | None = None, timeout: tuple[float, float] = (2, 5),
                 public_key_id: str | None = None, public_key_pem: str | None = None):
        self.mchid = mchid
        self.appid = appid
        self.serial = merchant_serial
        self._key = paycrypto.load_private_key(merchant_private_key_pem)
        self.apiv3_key = apiv3_key
        self.api_base = api_base.rstrip("/")
        self.keys = keys
        self._verifier = NotificationVerifier(keys, apiv3_key)
        self.session = session or Http()
        self.timeout = timeout
        # Public-key mode: every request names the key, so WeChat signs its answers with it
        # (without the header, a merchant migrating from certificates gets certificate-signed
        # answers). The same key encrypts sensitive fields (user_name, bank accounts).
        self.public_key_id = public_key_id
        self._public_key = paycrypto.load_public_key(public_key_pem) if public_key_pem else None

    def prime(self) -> None:
        """For a container about to be snapshotted (SnapStart): the transport's pool built.
        No request, and no private-key operation: the key's first signature sets up its
        RSA blinding from OpenSSL's random generator, which every container restored from
        the snapshot would then share."""
        if isinstance(self.session, Http):
            self.session.prime()

    # -- transport ---------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None, query: dict | None = None,
              verify: bool = True, absolute_url: str | None = None, serial_required: bool = False
              ) -> tuple[int, str]:
        if absolute_url:
            parts = urlsplit(absolute_url)
            url, signed_path = absolute_url, parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            signed_path = path + (f"?{urlencode(query)}" if query else "")
            url = self.api_base + signed_path
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {
            "Authorization": paycrypto.authorization_header(self.mchid, self.serial, self._key, method,
                                                            signed_path, text),
            "Accept": "application/json",
            "User-Agent": "wechat-shop-backend",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.public_key_id:
            headers["Wechatpay-Serial"] = self.public_key_id
        elif serial_required:
            # Certificate mode: the calls whose documents make Wechatpay-Serial 必填 (the
            # transfers with a receipt authorization) name the newest platform certificate.
            serial = self.keys.newest_certificate_serial()
            if serial is None:
                raise WeChatPayUnavailable(0, "NO_PLATFORM_CERTIFICATE", "no platform certificate to name")
            headers["Wechatpay-Serial"] = serial
        try:
            response = self.session.request(method, url, data=text.encode() if body is not None else None,
                                            headers=headers, timeout=self.timeout)
        except (TransportError, OSError) as exc:
            raise WeChatPayUnavailable(0, "NETWORK", str(exc)) from exc
        if response.status_code >= 500:
            raise WeChatPayUnavailable(response.status_code, *self._error(response))
        if response.status_code >= 400:
            status = response.status_code
            code, message = self._error(response)
            if status == 429 or code == "FREQUENCY_LIMITED":
                raise FrequencyLimited(status, code, message)
            if status == 404 or code in ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS", "NOT_FOUND"):
                raise OrderNotFoundAtWeChat(status, code, message)
            raise WeChatPayError(status, code, message)
        if verify:
            try:
                self._verifier.verify_response(response.headers, response.content)
            except NotificationError as exc:
                # WeChat may have acted: the caller asks again with the same number.
                raise ResponseNotVerified(response.status_code, "RESPONSE_NOT_VERIFIED", str(exc)) from exc
        return response.status_code, response.text

    @staticmethod
    def _error(response) -> tuple[str, str]:
        try:
            data = response.json()
            return str(data.get("code", "UNKNOWN")), str(data.get("message", ""))
        except ValueError:
            return "UNKNOWN", response.text[:200]

    def _json(self, *args, **kwargs) -> dict:
        _, text = self._call(*args, **kwargs)
        return json.loads(text) if text else {}

    # -- payments ----------------------------------------------------------------------
    def jsapi_prepay(self, out_trade_no: str, description: str, total_fen: int, payer_openid: str,
                     notify_url: str, time_expire: datetime) -> str:
        answer = self._json("POST", "/v3/pay/transactions/jsapi", {
            "appid": self.appid, "mchid": self.mchid,
            "description": fit_utf8(description, 127, bmp_only=True).strip() or "商品",
            "out_trade_no": out_trade_no, "time_expire": beijing_rfc3339(time_expire),
            "notify_url": notify_url, "amount": {"total": int(total_fen), "currency": "CNY"},
            "payer": {"openid": payer_openid},
        })
        return answer["prepay_id"]

    def jsapi_params(self, prepay_id: str) -> dict:
        return paycrypto.jsapi_payment_params(self.appid, prepay_id, self._key)

    def query_order(self, out_trade_no: str) -> dict:
        return self._json("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}", query={"mchid": self.mchid})

    def close_order(self, out_trade_no: str) -> None:
        self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.mchid},
                   verify=False)  # 204 with no body: nothing to believe or doubt

    # -- refunds -----------------------------------------------------------------------
    def refund(self, out_trade_no: str, out_refund_no: str, refund_fen: int, total_fen: int,
               reason: str, notify_url: str) -> dict:
        return self._json("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "reason": fit_utf8(reason, 80),
            "notify_url": notify_url,
            "amount": {"refund": int(refund_fen), "total": int(total_fen), "currency": "CNY"},
        })

    def query_refund(self, out_refund_no: str) -> dict:
        return self._json("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")

    def apply_abnormal_refund(self, wechat_refund_id: str, out_refund_no: str, kind: str,
                              bank_type: str | None = None, bank_account: str | None = None,
                              real_name: str | None = None) -> dict:
        """发起异常退款: a refund WeChat could not return to the payer (ABNORMAL) goes to the
        user's bank card (USER_BANK_CARD) or the merchant's (MERCHANT_BANK_CARD)."""
        body = {"out_refund_no": out_refund_no, "type": kind}
        if kind == "USER_BANK_CARD":
            body.update(bank_type=bank_type, bank_account=self._encrypt(bank_account or ""),
                        real_name=self._encrypt(real_name or ""))
        return self._json("POST", f"/v3/refund/domestic/refunds/{wechat_refund_id}/apply-abnormal-refund", body)

    # -- merchant transfers (payouts) ------------------------------------------------------
    def transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str, notify_url: str,
                 scene_id: str = "1005", report_infos: list[dict] | None = None,
                 user_name: str | None = None, authorization_info: dict | None = None) -> dict:
        """发起转账 (user-confirmation mode). With `authorization_info` ({user_display_name,
        out_authorization_no, authorization_notify_url}) it is 发起转账并完成免确认收款授权: the
        user's confirmation of this transfer also grants the confirmation-free authorization."""
        body = {
            "appid": self.appid, "out_bill_no": out_bill_no, "transfer_scene_id": scene_id,
            "openid": openid, "transfer_amount": int(amount_fen), "transfer_remark": remark[:32],
            "notify_url": notify_url,
            "transfer_scene_report_infos": report_infos or [
                {"info_type": "岗位类型", "info_content": "分销员"},
                {"info_type": "报酬说明", "info_content": "分销佣金"},
            ],
        }
        if user_name:
            body["user_name"] = self._encrypt(user_name)
        if authorization_info:
            body["authorization_info"] = authorization_info
            return self._json("POST", "/v3/fund-app/mch-transfer/transfer-bills/pre-transfer-with-authorization", body,
                              serial_required=True)
        return self._json("POST", "/v3/fund-app/mch-transfer/transfer-bills", body)

    def authorized_transfer(self, out_bill_no: str, openid: str, amount_fen: int, remark: str, notify_url: str,
                            authorization_id: str, scene_id: str = "1005") -> dict:
        """用户授权免确认收款后转账: no package, nobody confirms; ACCEPTED/PROCESSING/TRANSFERING/SUCCESS."""
        return self._json("POST", "/v3/fund-app/mch-transfer/transfer-bills/transfer", {
            "appid": self.appid, "out_bill_no": out_bill_no, "transfer_scene_id": scene_id, "openid": openid,
            "transfer_amount": int(amount_fen), "transfer_remark": remark[:32], "notify_url": notify_url,
            "authorization_id": authorization_id,
            "transfer_scene_report_infos": [{"info_type": "岗位类型", "info_content": "分销员"},
                                            {"info_type": "报酬说明", "info_content": "分销佣金"}]},
            serial_required=True)

    def query_authorization(self, out_authorization_no: str) -> dict:
        return self._json("GET", "/v3/fund-app/mch-transfer/user-confirm-authorization/out-authorization-no/"
                                 f"{out_authorization_no}")

    def query_transfer(self, out_bill_no: str) -> dict:
        return self._json("GET", f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}")

    def cancel_transfer(self, out_bill_no: str) -> dict:
        """撤销转账: only while WeChat waits for the user; the answer is CANCELING/CANCELLED."""
        return self._json("POST", f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel")

    def _encrypt(self, text: str) -> str:
        if self._public_key is None or not self.public_key_id:
            # In certificate mode the field would be encrypted with the platform certificate
            # named by Wechatpay-Serial; no payout reaches the amount that needs it.
            raise WeChatPayError(0, "NO_PUBLIC_KEY", "sensitive fields need WeChat Pay's public key")
        from layers.wechat.paycrypto import encrypt_sensitive

        return encrypt_sensitive(self._public_key, text)

    # -- bills and certificates ----------------------------------------------------------
    def trade_bill(self, bill_date: date) -> bytes:
        """The day's ALL trade bill, as the bytes WeChat served, checked against the SHA1
        of its (signed) answer before anything reads them as text.

        WeChat answers NO_STATEMENT_EXIST for a day with no payment and no refund and
        STATEMENT_CREATING before the bill is made: both raise WeChatPayError with that
        code. A download that does not match its hash raises BILL_HASH_MISMATCH."""
        answer = self._json("GET", "/v3/bill/tradebill", query={"bill_date": bill_date.isoformat(),
                                                                "bill_type": "ALL"})
        data = self._download_bill(answer["download_url"])
        hash_type = str(answer.get("hash_type") or "SHA1").upper()
        expected = str(answer.get("hash_value") or "").lower()
        if hash_type != "SHA1" or not expected:
            raise WeChatPayError(200, "BILL_HASH_MISMATCH", f"no SHA1 to check the bill against ({hash_type})")
        import hashlib

        if hashlib.sha1(data).hexdigest() != expected:
            raise WeChatPayError(200, "BILL_HASH_MISMATCH", "the bill does not match its hash")
        return data

    def _download_bill(self, url: str) -> bytes:
        """GET a `download_url`, signed like any request. Its answer is the file itself,
        unsigned (WeChat sends no signature headers; the hash is what vouches for it), and
        read as bytes: WeChat serves `text/plain` with no charset, for which a client like `requests`
        would decode the UTF-8 as ISO-8859-1."""
        parts = urlsplit(url)
        signed_path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Authorization": paycrypto.authorization_header(self.mchid, self.serial, self._key, "GET",
                                                            signed_path, ""),
            "Accept": "*/*",
            "User-Agent": "wechat-shop-backend",
        }
        try:
            response = self.session.request("GET", url, headers=headers, timeout=self.timeout)
        except (TransportError, OSError) as exc:
            raise WeChatPayUnavailable(0, "NETWORK", str(exc)) from exc
        if response.status_code >= 500:
            raise WeChatPayUnavailable(response.status_code, *self._error(response))
        if response.status_code >= 400:
            raise WeChatPayError(response.status_code, *self._error(response))
        return response.content

    def download_certificates(self) -> list[tuple[str, object, float]]:
        # The certificate list is signed by one of the certificates in it: bootstrap by
        # verifying after decrypting (decryption with our APIv3 key proves it is WeChat's).
        _, text = self._call("GET", "/v3/certificates", verify=False)
        out = []
        for item in json.loads(text).get("data", []):
            enc = item["encrypt_certificate"]
            pem = paycrypto.aead_decrypt(self.apiv3_key, enc["nonce"], enc.get("associated_data", ""),
                                         enc["ciphertext"]).decode()
            not_after = datetime.fromisoformat(item["expire_time"]).astimezone(UTC).timestamp()
            out.append((item["serial_no"], paycrypto.load_public_key(pem), not_after))
        return out


__all__ = ["OrderNotFoundAtWeChat", "WeChatPayClient", "WeChatPayError", "WeChatPayUnavailable",
           "beijing_rfc3339", "fit_utf8", "time"]
