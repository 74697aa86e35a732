"""Middleware for every handler: structured logs with request ids, the contract's
error envelope on the answers Chalice itself produces (unknown route, wrong method,
unhandled error), and one `alarm` line for every 5xx.

Why every 5xx logs `alarm` here: Chalice turns a view's exception into a 500 answer, so
the Lambda invocation succeeds and AWS/Lambda `Errors` never counts it; a 5xx a view
returns itself (503 upstream unavailable, a notification not handled) is no error to
Lambda either. The middleware sees every answer of every route, so it is the one place
that can log each 5xx with the field infra/'s metric filter counts (`Http5xx`)."""

from __future__ import annotations

from chalice import Chalice, Response

from layers.observability import ALARM_5XX, logger


def install_middleware(app: Chalice) -> None:
    @app.middleware("http")
    def envelope_and_log(event, get_response):
        request_id = (event.context or {}).get("requestId") if hasattr(event, "context") else None
        logger.start_invocation(request_id=request_id, path=event.path, method=event.method)
        try:
            response = get_response(event)
            _to_envelope(response)
            if response.status_code >= 500:
                logger.error("http 5xx", extra={"status": response.status_code, "alarm": ALARM_5XX,
                                                "code": _error_code(response)})
            else:
                logger.info("http", extra={"status": response.status_code})
        finally:
            # Whatever a handler appended (order_id, payout_id, out_bill_no, ...) ends with
            # its request: a warm container's next request starts clean.
            logger.end_invocation()
        return response

    @app.middleware("all")
    def lambda_context(event, get_response):
        # Non-HTTP events (SQS, schedules, direct invocations) log their request id too.
        ctx = getattr(event, "context", None)
        aws_request_id = getattr(ctx, "aws_request_id", None)
        is_http = hasattr(event, "method")  # an HTTP request's keys start and end in envelope_and_log
        if not is_http:
            logger.start_invocation()
        if aws_request_id:
            logger.append_keys(aws_request_id=aws_request_id)
        try:
            return get_response(event)
        finally:
            if not is_http:
                logger.end_invocation()


def _to_envelope(response: Response) -> None:
    """Chalice's own errors are `{"Code", "Message"}`; the contract wants `{"error": {...}}`."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = {
            "InternalServerError": "INTERNAL",
            "MethodNotAllowedError": "METHOD_NOT_ALLOWED",
            "UnsupportedMediaType": "UNSUPPORTED_MEDIA_TYPE",
            "BadRequest": "INVALID_REQUEST",
            "NotFoundError": "NOT_FOUND",
        }.get(body["Code"], str(body["Code"]).upper())
        response.body = {"error": {"code": code, "message": body.get("Message", "")}}


def _error_code(response: Response) -> str | None:
    """The envelope's code (or WeChat Pay's `code` on the notify routes), for the alarm line."""
    body = response.body
    if isinstance(body, dict):
        error = body.get("error")
        return str(error.get("code")) if isinstance(error, dict) else (str(body["code"]) if "code" in body else None)
    return None
