"""`make smoke BASE_URL=...`: check a running stage end to end, touching no real money.

    python -m local.smoke https://<api>.execute-api.<region>.amazonaws.com/api

Each check sends what a shopper, WeChat or an attacker would, and compares the answer with
the contract (openapi/openapi.json, ../shared/CONTRACT.md): the service is up, the public
GET routes answer what the document's response schemas say, a login with a code WeChat
never issued is refused, WeChat Pay's notify routes refuse an unsigned body, the message
push refuses a bad signature, a shopper route without a token is 401, the console's
sign-in page is served. Nothing is created: no order, no payment, no login that works.

Prints one line per check and exits 0 only when all passed. Standard library, and
jsonschema (in the venv) for the response schemas.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
TIMEOUT_S = 20


class CheckFailed(Exception):
    pass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise CheckFailed(f"{self.status}: the body is not JSON: {self.body[:200]!r}") from None


class Stage:
    def __init__(self, base_url: str, document: dict) -> None:
        self.base = base_url.rstrip("/")
        self.document = document

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"User-Agent": "wechat-shop-smoke", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as r:
                return Answer(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise CheckFailed(f"{method} {path}: no answer ({e})") from None

    # -- the document --------------------------------------------------------------------

    def response_schema(self, path: str, method: str, status: int, content_type: str = "application/json") -> dict:
        responses = self.document["paths"][path][method]["responses"]
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if response is None:
            raise CheckFailed(f"{method.upper()} {path}: {status} is not an answer the document lists")
        while "$ref" in response:
            response = self._resolve(response["$ref"])
        content = response.get("content", {})
        if content_type not in content:
            raise CheckFailed(f"{method.upper()} {path} {status}: the document lists {sorted(content)}, not {content_type}")
        return content[content_type].get("schema", {})

    def _resolve(self, ref: str) -> dict:
        node = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def conforms(self, answer: Answer, path: str, method: str = "get") -> object:
        """The answer's JSON, checked against the document's schema for its status."""
        from jsonschema import Draft202012Validator

        schema = {**self.response_schema(path, method, answer.status), "components": self.document["components"]}
        value = answer.json()
        errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(body)"
            raise CheckFailed(f"{method.upper()} {path} {answer.status}: {where}: {first.message[:200]}")
        return value


def _expect(answer: Answer, *statuses: int, what: str) -> None:
    if answer.status not in statuses:
        raise CheckFailed(f"{what}: {answer.status} where {' or '.join(map(str, statuses))} was expected: "
                          f"{answer.body[:200]!r}")


def _envelope(stage: Stage, answer: Answer, path: str, method: str, code: str | None = None) -> None:
    value = stage.conforms(answer, path, method)
    if code is not None and value["error"]["code"] != code:
        raise CheckFailed(f"{method.upper()} {path}: error code {value['error']['code']!r}, expected {code!r}")


# ---------------------------------------------------------------------------- the checks


def check_health(stage: Stage) -> str:
    answer = stage.call("GET", "/health")
    _expect(answer, 200, what="GET /health")
    value = stage.conforms(answer, "/health")
    if value != {"status": "ok"}:
        raise CheckFailed(f"GET /health: {value}")
    return "ok"


def check_products(stage: Stage) -> str:
    answer = stage.call("GET", "/products")
    _expect(answer, 200, what="GET /products")
    page = stage.conforms(answer, "/products")
    items = page.get("items", [])
    if not items:
        return "no product on sale (the list's shape is as documented)"
    first = items[0]["id"] if "id" in items[0] else items[0].get("product_id")
    detail = stage.call("GET", f"/products/{first}")
    _expect(detail, 200, what=f"GET /products/{first}")
    stage.conforms(detail, "/products/{product_id}")
    return f"{len(items)} on the first page; /products/{first} as documented"


def check_unknown_product(stage: Stage) -> str:
    unknown = stage.call("GET", "/products/smoke-no-such-product")
    _expect(unknown, 404, what="GET /products/<unknown>")
    _envelope(stage, unknown, "/products/{product_id}", "get", "NOT_FOUND")
    return "404 NOT_FOUND in the error envelope"


def check_shopper_route_needs_a_token(stage: Stage) -> str:
    answer = stage.call("GET", "/orders")
    _expect(answer, 401, what="GET /orders without a token")
    _envelope(stage, answer, "/orders", "get")
    return "401 in the error envelope"


def check_login_refused(stage: Stage) -> str:
    # WeChat refuses a code it never issued (40029); the sandbox refuses codes named "invalid...".
    answer = stage.call("POST", "/auth/login", json.dumps({"code": "invalid-code-from-make-smoke"}).encode(),
                        {"Content-Type": "application/json"})
    _expect(answer, 401, what="POST /auth/login with a code WeChat never issued")
    _envelope(stage, answer, "/auth/login", "post", "INVALID_CODE")
    return "401 INVALID_CODE"


NOTIFY_ROUTES = ("/wechatpay/notify", "/wechatpay/refund-notify", "/wechatpay/transfer-notify")


def check_notify_refuses_unsigned(stage: Stage) -> str:
    body = json.dumps({"id": "smoke", "event_type": "TRANSACTION.SUCCESS", "resource_type": "encrypt-resource",
                       "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": "", "nonce": "",
                                    "associated_data": ""}}).encode()
    for path in NOTIFY_ROUTES:
        answer = stage.call("POST", path, body, {"Content-Type": "application/json"})
        # WeChat Pay reads any 2xx as "handled": an unsigned body must never get one.
        _expect(answer, 400, 401, what=f"POST {path} unsigned")
        value = stage.conforms(answer, path, "post")
        if value.get("code") != "FAIL":
            raise CheckFailed(f"POST {path}: answer {value}, expected WeChat's FAIL acknowledgement")
    return "refused with 401 on each of " + ", ".join(NOTIFY_ROUTES)


def check_message_push_refuses_bad_signature(stage: Stage) -> str:
    query = "?signature=0000000000000000000000000000000000000000&timestamp=1700000000&nonce=smoke"
    answer = stage.call("GET", "/wechat/message-push" + query + "&echostr=smoke-echo")
    _expect(answer, 400, 401, what="GET /wechat/message-push with a bad signature")
    if b"smoke-echo" in answer.body:
        raise CheckFailed("GET /wechat/message-push echoed echostr to a bad signature")
    _envelope(stage, answer, "/wechat/message-push", "get")
    answer = stage.call("POST", "/wechat/message-push" + query + "&msg_signature=00&encrypt_type=aes",
                        json.dumps({"ToUserName": "gh_smoke", "Encrypt": "AAAA"}).encode(),
                        {"Content-Type": "application/json"})
    _expect(answer, 400, 401, what="POST /wechat/message-push with a bad signature")
    _envelope(stage, answer, "/wechat/message-push", "post")
    return f"GET and POST refused ({answer.status})"


def check_console_sign_in(stage: Stage) -> str:
    answer = stage.call("GET", "/console/login")
    _expect(answer, 200, what="GET /console/login")
    if not answer.headers.get("content-type", "").startswith("text/html"):
        raise CheckFailed(f"GET /console/login: content type {answer.headers.get('content-type')!r}")
    page = answer.body.decode("utf-8", "replace")
    if "<form" not in page or 'name="password"' not in page:
        raise CheckFailed("GET /console/login: no sign-in form with a password field")
    return "the sign-in form"


CHECKS: list[tuple[str, Callable[[Stage], str]]] = [
    ("health", check_health),
    ("product list and detail", check_products),
    ("unknown product", check_unknown_product),
    ("shopper route without a token", check_shopper_route_needs_a_token),
    ("login with a bad code refused", check_login_refused),
    ("notify routes refuse an unsigned body", check_notify_refuses_unsigned),
    ("message push refuses a bad signature", check_message_push_refuses_bad_signature),
    ("console sign-in page", check_console_sign_in),
]


def run(base_url: str, out=sys.stdout, document: dict | None = None) -> bool:
    stage = Stage(base_url, document or json.loads(DOCUMENT.read_text()))
    print(f"smoke: {stage.base}", file=out, flush=True)
    failed = 0
    for name, check in CHECKS:
        started = time.monotonic()
        try:
            detail = check(stage)
            status = "ok  "
        except CheckFailed as exc:
            detail, status = str(exc), "FAIL"
            failed += 1
        except Exception as exc:  # noqa: BLE001 - a check that crashed is a failed check, and the others still run
            detail, status = f"{type(exc).__name__}: {exc}", "FAIL"
            failed += 1
        print(f"  {status} {name}: {detail} ({(time.monotonic() - started) * 1000:.0f} ms)", file=out, flush=True)
    print(f"smoke: {len(CHECKS) - failed} passed, {failed} failed", file=out, flush=True)
    return failed == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the API's URL, as make deploy printed it")
    args = parser.parse_args(argv)
    return 0 if run(args.base_url) else 1


if __name__ == "__main__":
    sys.exit(main())
