"""Every 5xx answer of any route logs one structured line with an `alarm` field (what
infra/'s `Http5xx` metric filter counts): an exception Chalice turned into a 500, a 503
a view chose, a 5xx page with no JSON body. A 2xx or 4xx logs no alarm."""

from __future__ import annotations

import io
import json

import pytest
from chalice import Blueprint, Chalice, Response
from chalice.test import Client

from functions._api import error_response, route
from functions._middleware import install_middleware
from layers.domain import errors
from layers.observability import ALARM_5XX, logger


@pytest.fixture
def app():
    app = Chalice(app_name="alarm-5xx")
    bp = Blueprint(__name__)

    @route(bp, "/boom")
    def boom():
        raise RuntimeError("a bug")

    @route(bp, "/unavailable")
    def unavailable():
        raise errors.UpstreamUnavailable("WeChat did not answer")

    @bp.route("/chosen")
    def chosen():
        return error_response(500, "NOT_HANDLED", "retry")

    @bp.route("/page")
    def page():
        return Response(body="<html>down</html>", status_code=502, headers={"Content-Type": "text/html"})

    @route(bp, "/ok")
    def ok():
        return {"ok": True}

    @route(bp, "/missing")
    def missing():
        raise errors.NotFound("no such thing")

    app.register_blueprint(bp)
    install_middleware(app)
    return app


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logger.registered_handler
    old = handler.setStream(stream)
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    finally:
        handler.setStream(old)
        logger.setLevel(level)


@pytest.mark.parametrize("path,status,code", [("/boom", 500, "INTERNAL"), ("/unavailable", 503, "UPSTREAM_UNAVAILABLE"),
                                              ("/chosen", 500, "NOT_HANDLED"), ("/page", 502, None)])
def test_every_5xx_logs_one_alarm_line(app, log_lines, path, status, code):
    with Client(app) as client:
        r = client.http.get(path)
    assert r.status_code == status
    alarms = [line for line in log_lines() if "alarm" in line]
    assert len(alarms) == 1, log_lines()
    [line] = alarms
    assert line["alarm"] == ALARM_5XX == "HTTP_5XX"
    assert line["level"] == "ERROR"
    assert line["status"] == status
    assert line["path"] == path and line["method"] == "GET"
    assert line.get("code") == code


@pytest.mark.parametrize("path,status", [("/ok", 200), ("/missing", 404), ("/nowhere", 403)])
def test_no_alarm_below_500(app, log_lines, path, status):
    with Client(app) as client:
        r = client.http.get(path)
    assert r.status_code == status
    lines = log_lines()
    assert not [line for line in lines if "alarm" in line], lines
