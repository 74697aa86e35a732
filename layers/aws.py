"""One botocore session per container, shared by every AWS client (DynamoDB through
pynamodb, SQS, S3): a session loads botocore's endpoint rules and keeps its loaders'
cache, so a second session pays that again on a cold start. Client creation is not
thread-safe in botocore, hence the lock.

The session's data loader is ours, for two costs of every cold start that buy
us nothing: botocore lists all ~450 service directories of its data (thousands of stats)
to check the name of the one model it is about to load, and decodes its JSON models into
OrderedDicts, which makes the C decoder call back into Python for every object (half of
the 20 ms it spends on endpoints.json); a dict keeps its order too."""

from __future__ import annotations

import threading
import weakref

_lock = threading.RLock()
_session = None
# Every client made from the session, so a container restored from a SnapStart snapshot
# can close the connections they opened before it (`drop_connections`).
_clients: weakref.WeakSet = weakref.WeakSet()


def session():
    global _session
    with _lock:
        if _session is None:
            import botocore.session  # here: the handlers that touch no AWS service never load it

            _session = botocore.session.get_session()
            _session.register_component("data_loader", _loader())
        return _session


def client(service: str, **kwargs):
    with _lock:
        return track(session().create_client(service, **kwargs))


def track(made):
    """Count a client made from `session()` elsewhere (pynamodb's) among ours."""
    _clients.add(made)
    # Registered once, at creation: botocore forgets its event lookups whenever a handler
    # is registered or removed, and those lookups are part of what `prime` warms.
    made.meta.events.register_first("before-send", _answer_offline, unique_id="shop-prime-offline")
    return made


_priming = threading.local()


def prime(made, calls: dict[str, dict]) -> None:
    """Each call (operation name -> its parameters) made on `made` without sending it:
    botocore validates, serialises and signs it (resolving the credentials and the
    endpoint), then takes an empty 200 answer made here and parses it, as for a real
    call. The first call of each operation builds its model, serializer, parser and
    event lookups, a few ms each, otherwise paid by a container's first request.
    Nothing leaves the process: priming an operation that writes writes nothing."""
    from botocore import xform_name

    if made not in _clients:  # without our before-send handler, the calls would be sent
        raise ValueError("prime only clients made or tracked here")
    _priming.active = True
    try:
        for operation, params in calls.items():
            getattr(made, xform_name(operation))(**params)
    finally:
        _priming.active = False


def _answer_offline(request, **kwargs):
    if not getattr(_priming, "active", False):
        return None  # the request is sent
    from botocore.awsrequest import AWSResponse

    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Body(b"{}"))


class _Body:
    """The raw stream AWSResponse reads its content from."""

    def __init__(self, content: bytes):
        self._content = content

    def stream(self, **kwargs):
        yield self._content


def drop_connections() -> int:
    """Close every client's pooled HTTP connections; each client stays usable and opens
    new ones on its next call. For a container restored from a snapshot: the sockets it
    holds were opened by the container the snapshot was taken in, and a request sent on
    one would wait for its read timeout. Returns how many clients were closed."""
    with _lock:
        made = list(_clients)
    for c in made:
        c.close()
    return len(made)


def creating():
    """The lock to hold while something else (pynamodb) creates a client from the session."""
    return _lock


# The services this module makes clients for: a name not here is refused by botocore as an
# unknown service (UnknownServiceError), which a test of each client would show at once.
SERVICES = ("dynamodb", "sqs", "s3")


def _loader():
    import json

    from botocore.loaders import JSONFileLoader, Loader

    class PlainJSONFileLoader(JSONFileLoader):
        def _load_file(self, full_path, open_method):
            try:
                with open_method(full_path, "rb") as fp:
                    payload = fp.read()
            except FileNotFoundError:
                return None
            return json.loads(payload.decode("utf-8"))

    class KnownServicesLoader(Loader):
        def list_available_services(self, type_name):
            return list(SERVICES)

    return KnownServicesLoader(file_loader=PlainJSONFileLoader())
