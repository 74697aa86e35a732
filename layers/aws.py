"""One botocore session per container, shared by every AWS client (DynamoDB through
pynamodb, SQS, S3): a session loads botocore's endpoint rules and keeps its loaders'
cache, so a second session pays that again on a cold start. Client creation is not
thread-safe in botocore, hence the lock."""

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
        return _session


def client(service: str, **kwargs):
    with _lock:
        return session().create_client(service, **kwargs)


def creating():
    """The lock to hold while something else (pynamodb) creates a client from the session."""
    return _lock
