"""The HTTP edge every route shares: the contract's error envelope, request parsing
with pydantic, callers (shopper token or admin key), paging and idempotency keys.

Chalice turns any exception a view raises into its own 500 body before middleware
sees it, so routes are declared through `route()` here, which maps domain errors and
validation errors to the contract's `{"error": {"code", "message"}}` first.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from functions._ids import PATH_ID_PATTERN
from layers.auth import derived_key, verify_admin_key, verify_shopper_token
from layers.domain import errors
from layers.observability import logger

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

STATUS_BY_KIND = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "unprocessable": 422,
    "rate_limited": 429,
    "unavailable": 503,
}

def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response(
        body={"error": {"code": code, "message": message}},
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def domain_error_response(exc: errors.DomainError) -> Response:
    status = STATUS_BY_KIND.get(exc.kind, 400)
    headers = {"Retry-After": str(int(exc.details.get("retry_after") or 1))} if status in (429, 503) else None
    if status >= 500:
        logger.warning("upstream unavailable", extra={"code": exc.code, "reason": exc.message})
    return error_response(status, exc.code, exc.message, headers)


def route(bp: Blueprint, path: str, **options: Any) -> Callable:
    """`bp.route` whose view answers domain and validation errors in the envelope."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            try:
                _check_path_ids(kwargs)
                if bp.current_request.method == "GET" or not path.startswith("/admin"):
                    return view(*args, **kwargs)
                return _audited_admin_change(bp, view, *args, **kwargs)
            except errors.DomainError as exc:
                return domain_error_response(exc)
            except Exception as exc:
                if not is_validation_error(exc):
                    raise
                return error_response(400, "INVALID_REQUEST", _describe(exc))

        return bp.route(path, **options)(wrapped)

    return decorator


def _audited_admin_change(bp: Blueprint, view: Callable, *args, **kwargs):
    """An admin API change, with its audit line (functions/_audit.py) once it succeeded."""
    from functions import _audit

    _audit.begin()
    answer = view(*args, **kwargs)
    status = answer.status_code if isinstance(answer, Response) else 200
    request = bp.current_request
    if status < 400 and (request.context or {}).get("shop_caller") == "admin":
        from layers.services.operators import Session

        _audit.record(Session("owner", "owner"), request, _audit.json_fields(request.raw_body))
    return answer


# -- ids by shape and length, before anything reaches DynamoDB --
# What the shop makes (ids, share tokens, job names, dates) is letters, digits and
# "_-.:"; keys longer than this cannot name anything we stored.
PATH_ID = re.compile(PATH_ID_PATTERN)
MAX_JSON_DEPTH = 16


def _check_path_ids(params: dict) -> None:
    for name, value in params.items():
        if not isinstance(value, str) or not PATH_ID.fullmatch(value):
            raise errors.InvalidRequest(f"{name} must be 1 to 100 letters, digits or _ - . :")


def _too_deep(value: Any) -> bool:
    """True when `value` nests deeper than MAX_JSON_DEPTH (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def is_validation_error(exc: BaseException) -> bool:
    """A pydantic validation error, without importing pydantic: a route that parsed no body
    has not loaded it, and then no exception can be one."""
    core = sys.modules.get("pydantic_core")
    return core is not None and isinstance(exc, core.ValidationError)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts)


def parse_body[M: BaseModel](bp: Blueprint, model: type[M]) -> M:
    """The JSON body as `model`; a missing, non-JSON or invalid body is 400."""
    return model.model_validate(json_object(bp))


def json_object(bp: Blueprint) -> dict:
    """The JSON body as a dict ({} when empty); anything else is 400."""
    request = bp.current_request
    raw = request.raw_body
    if not raw:
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.InvalidRequest("the body is not valid JSON") from exc
        except RecursionError as exc:
            raise errors.InvalidRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from exc
        if _too_deep(data):
            raise errors.InvalidRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict):
        raise errors.InvalidRequest("the body must be a JSON object")
    return data


def query_param(bp: Blueprint, name: str, default: str | None = None) -> str | None:
    params = bp.current_request.query_params or {}
    return params.get(name, default)


def page_args(bp: Blueprint) -> tuple[int, str | None]:
    raw = query_param(bp, "limit", "20")
    try:
        limit = int(raw)
    except ValueError as exc:
        raise errors.InvalidRequest("limit must be an integer from 1 to 100") from exc
    if not 1 <= limit <= 100:
        raise errors.InvalidRequest("limit must be an integer from 1 to 100")
    return limit, query_param(bp, "cursor")


def idempotency_key(bp: Blueprint) -> str | None:
    """The `Idempotency-Key` header: 1 to 64 printable ASCII characters, or absent."""
    key = bp.current_request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 64 or not all(33 <= ord(c) <= 126 or c == " " for c in key):
        raise errors.InvalidRequest("Idempotency-Key must be 1 to 64 printable ASCII characters")
    return key


def bearer_token(bp: Blueprint) -> str | None:
    header = bp.current_request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    token = token.strip()
    if not token.isascii() or not token.isprintable() or len(token) > 512:
        raise errors.Unauthorized("malformed credentials")
    return token


def shopper_id(bp: Blueprint) -> str:
    """The calling shopper's user id from their token (signature, stage, expiry and
    token version checked); 401 otherwise."""
    claims = _shopper_claims(bp)
    from functions import wiring

    wiring.token_versions().check(claims.user_id, claims.version)
    return claims.user_id


def shopper_writing(bp: Blueprint, family: str) -> str:
    """`shopper_id` for a write route of `family` (claims, helps, top-ups), counted in the
    shopper's window of that family: 429 RATE_LIMITED with `Retry-After` past the limit
    (layers/domain/rate_limit.py). Orders count inside their placement transaction."""
    user_id = shopper_id(bp)
    from functions import wiring
    from layers.domain import rate_limit

    epoch = int(wiring.clock().now().timestamp())
    if not wiring.rate_limiter().hit(rate_limit.shopper_key(user_id, family), rate_limit.SHOPPER_WRITE_LIMIT,
                                     rate_limit.SHOPPER_WRITE_WINDOW_S, epoch):
        raise rate_limit.shopper_limited(epoch)
    return user_id


def _shopper_claims(bp: Blueprint):
    """The bearer token's claims once its signature, stage and expiry hold (the caller
    checks its version); 401 otherwise."""
    token = bearer_token(bp)
    if token is None:
        raise errors.Unauthorized("a shopper token is required")
    claims = verify_shopper_token(token)
    _remember_caller(bp, f"user:{claims.user_id}")
    return claims


def optional_shopper(bp: Blueprint) -> str | None:
    """The caller's user id on a public route, where a token only adds to the answer: its
    signature, stage and expiry checked (no read); None without one or with one that fails."""
    try:
        return _shopper_claims(bp).user_id
    except errors.Unauthorized:
        return None


def shopper_checked_by_read(bp: Blueprint) -> tuple[str, Callable | None]:
    """For a route whose service reads the shopper anyway (POST /orders' batch read): the
    user id (signature, stage and expiry checked), and the token-version check to run on
    the user as that read finds them (None: this container knew the version and checked
    it here). A cold container saves the version's own read."""
    claims = _shopper_claims(bp)
    from functions import wiring

    versions = wiring.token_versions()
    if versions.check_cached(claims.user_id, claims.version):
        return claims.user_id, None
    return claims.user_id, lambda user: versions.check_read(claims.user_id, claims.version,
                                                            user.token_version if user is not None else 0)


def require_admin(bp: Blueprint) -> None:
    token = bearer_token(bp)
    if token is None:
        raise errors.Unauthorized("the admin key is required")
    verify_admin_key(token)
    _remember_caller(bp, "admin")


def _remember_caller(bp: Blueprint, caller: str) -> None:
    """Who this request was authenticated as: paging cursors are bound to it."""
    bp.current_request.context["shop_caller"] = caller


def source_address(bp: Blueprint) -> str | None:
    return ((bp.current_request.context or {}).get("identity") or {}).get("sourceIp")


def created(body: Any) -> Response:
    return Response(body=body, status_code=201, headers={"Content-Type": "application/json"})


def no_content() -> Response:
    return Response(body="", status_code=204)


def _cursor_scope(bp: Blueprint) -> bytes:
    """What a cursor is bound to: the route, its path parameters and the caller.
    A cursor taken from one list, or from someone else, does not verify anywhere else."""
    request = bp.current_request
    context = request.context or {}
    query = {k: v for k, v in (request.query_params or {}).items() if k not in ("cursor", "limit")}
    scope = {"route": context.get("resourcePath") or request.path, "params": request.uri_params or {},
             "query": query, "caller": context.get("shop_caller", "anonymous")}
    return json.dumps(scope, sort_keys=True, separators=(",", ":")).encode()


def _cursor_mac(scope: bytes, raw: bytes) -> bytes:
    return hmac.new(derived_key("cursor"), scope + b"\n" + raw, hashlib.sha256).digest()[:16]


def encode_cursor(key: dict | None, scope: bytes = b"") -> str | None:
    """DynamoDB's LastEvaluatedKey as an opaque, signed string (a client cannot point a
    page at someone else's items by editing it, nor use it on another list)."""
    if not key:
        return None
    raw = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_cursor_mac(scope, raw) + raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: bytes = b"") -> dict | None:
    if not cursor:
        return None
    try:
        if len(cursor) > 2048:
            raise ValueError("too long")
        blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        mac, raw = blob[:16], blob[16:]
        if not hmac.compare_digest(mac, _cursor_mac(scope, raw)):
            raise ValueError("bad mac")
        key = json.loads(raw)
        if not isinstance(key, dict):
            raise ValueError("not a key")
    except (ValueError, TypeError) as exc:
        raise errors.InvalidRequest("invalid cursor (cursors are valid only on the list and for the caller that "
                                    "issued them)") from exc
    return key


def page(items: list, next_key: dict | None, scope: bytes = b"") -> dict:
    return {"items": items, "next_cursor": encode_cursor(next_key, scope)}


def paged(bp: Blueprint, lister, *args) -> dict:
    """A contract page from `lister(*args, limit, cursor) -> (items, next_key)`; the
    cursor is bound to this route and caller (call after authenticating)."""
    limit, cursor = page_args(bp)
    scope = _cursor_scope(bp)
    items, next_key = lister(*args, limit, decode_cursor(cursor, scope))
    return page(items, next_key, scope)
