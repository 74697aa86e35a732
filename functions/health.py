"""GET /health: 200 once the service can reach its table."""

from chalice import Blueprint

from functions import wiring
from functions._api import error_response, route

bp = Blueprint(__name__)


@route(bp, "/health", methods=["GET"])
def health():
    try:
        wiring.table_probe().ping()
    except Exception:  # noqa: BLE001 - any failure to reach the table is "not ready"
        return error_response(503, "UNAVAILABLE", "the table cannot be reached")
    return {"status": "ok"}
