"""SnapStart for the API function: what runs before Lambda snapshots an initialised
container, and what a container restored from that snapshot renews before its first
request (docs/cold-start.md).

Lambda runs the hooks registered with `snapshot_restore_py` (the library of Lambda's
managed Python runtimes, https://pypi.org/project/snapshot-restore-py/): the
before-snapshot ones once, when a version is published, and the after-restore ones in
every container resumed from that snapshot, before its first invocation, within 10 s
(AWS Lambda Developer Guide, "Lambda SnapStart runtime hooks for Python"). Outside
Lambda the library is absent and `register()` does nothing; tests and
`bench/cold_start.py` call `prime()` then `restore()`, as Lambda would.
"""

from __future__ import annotations

# A body PlaceOrderInput accepts: validating it builds what pydantic builds on first use.
_SAMPLE_ORDER = {"items": [{"sku_id": "sku_prime", "quantity": 1}],
                 "address": {"name": "prime", "phone": "13800000000", "detail": "prime"}}


def prime() -> None:
    """The part of a first POST /orders (and GET /products) that does not depend on the
    request, done once before the snapshot: imports, settings (the secret read), the order service and its
    collaborators (the merchant key loaded, the DynamoDB and SQS clients, the WeChat Pay
    transport), botocore's work for each operation the order makes, the request model's
    validation. It writes nothing and calls WeChat for nothing: the AWS operations are
    made offline (`wiring.prime_order_path`)."""
    from functions import schemas, wiring

    wiring.prime_order_path()
    wiring.prime_listing_path()
    schemas.PlaceOrderInput.model_validate(_SAMPLE_ORDER).model_dump(mode="json")


def restore() -> None:
    """Every container resumed from the snapshot holds the same memory, and sockets that
    belonged to the container the snapshot was taken in. So, before its first request:

    - `random` reseeded from the OS (retry jitter, the flash sale's shard order: each
      container must draw its own numbers); fresh entropy mixed into OpenSSL's generator,
      which Python's `ssl` instantiated before the snapshot (every TLS context draws from
      it) and would otherwise replay in each restored container (OpenSSL's RAND_add;
      its child generators reseed from the one it reseeds);
    - no HTTP connection from before the snapshot: a request on one would wait out its
      read timeout;
    - the settings' secret read again from Secrets Manager: a snapshot lives as long as
      its version, and a key rotated since must not stay in use. If it changed, every
      service is built again from the new values on first use; if it cannot be read
      now, the same, and the first request reads it."""
    import os
    import random
    import ssl

    from functions import wiring
    from layers.observability import logger

    random.seed()  # from os.urandom, which keeps no state in the process
    ssl.RAND_add(os.urandom(32), 32.0)
    wiring.drop_connections()
    try:
        wiring.reread_settings()
    except Exception as exc:  # noqa: BLE001 - the first request reads them, and fails its own way
        logger.warning("settings not read again after restore", extra={"reason": type(exc).__name__})
        wiring.forget_settings()


def register() -> bool:
    """Hands `prime` and `restore` to Lambda's runtime; False where the library is absent
    (anywhere but Lambda's managed runtime)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prime)
    register_after_restore(restore)
    return True
