"""One botocore session per container, shared by every AWS client (DynamoDB through
pynamodb, SQS, S3): a session loads botocore's endpoint rules and keeps its loaders'
cache, so a second session pays that again on a cold start. Client creation is not
thread-safe in botocore, hence the lock.

Issue 16: the session's data loader is ours, for two costs of every cold start that buy
us nothing: botocore lists all ~450 service directories of its data (thousands of stats)
to check the name of the one model it is about to load, and decodes its JSON models into
OrderedDicts, which makes the C decoder call back into Python for every object (half of
the 20 ms it spends on endpoints.json); a dict keeps its order too."""

from __future__ import annotations

import threading

_lock = threading.RLock()
_session = None


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
        return session().create_client(service, **kwargs)


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
