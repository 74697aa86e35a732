"""`make dev` keeps its fixed ports (the docs' commands name them): a restart within a
minute finds them free although the last run's connections linger in TIME_WAIT, and a
port another process listens on stops the start with a message naming it, instead of a
service moving to a random port."""

from __future__ import annotations

import os
import socket

import pytest

from local import dev
from local.services import free_port, port_is_free


def _time_wait_port() -> int:
    """A port whose only socket is in TIME_WAIT, as a stopped server leaves it: the side
    that closes first (here the server's end) keeps the connection for a minute."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as DynamoDB Local, moto, http.server do
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()
    listener.close()
    client.recv(1)  # the server's FIN has arrived
    client.close()
    return port


def _args(**ports: int):
    return dev.build_parser().parse_args(
        [f"--{name.replace('_', '-')}={port}" for name, port in ports.items()] + ["--env-file", "/nonexistent"])


def test_a_port_in_time_wait_is_kept():
    port = _time_wait_port()
    with socket.socket() as plain:  # the old probe: a bind without SO_REUSEADDR fails here
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    assert port_is_free(port)
    args = _args(port=free_port(), dynamodb_port=port, sqs_port=_time_wait_port(), sandbox_port=_time_wait_port())
    assert dev.ports_in_use(args) == []


def test_a_port_something_listens_on_stops_the_start_and_names_it(capsys, monkeypatch):
    monkeypatch.delenv("WECHAT_APPID", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = []
        monkeypatch.setattr(dev, "run", lambda *a: started.append(a) or 0)
        code = dev.main([f"--port={free_port()}", f"--dynamodb-port={free_port()}", f"--sqs-port={free_port()}",
                         f"--sandbox-port={port}", "--env-file", "/nonexistent"])
    assert code == 1 and started == []
    err = capsys.readouterr().err
    assert f"port {port} (WeChat sandbox) is in use" in err and "SANDBOX_PORT=" in err


def test_the_stack_takes_every_setting_the_sandbox_prints_the_message_push_ones_included():
    """The message push's token and AES key are printed after the WeChat Pay settings: a
    stack that stopped reading before them answered every push 401."""
    saved = dict(os.environ)
    stack = dev.Stack()
    try:
        for name in ("WECHAT_APPID", "WECHATPAY_MCHID", "WECHAT_PUSH_TOKEN", "WECHAT_PUSH_AES_KEY"):
            os.environ.pop(name, None)
        base = dev._start_sandbox(stack, free_port())
        assert base is not None and os.environ["WECHAT_API_BASE"] == base
        assert len(os.environ["WECHAT_PUSH_TOKEN"]) >= 16 and len(os.environ["WECHAT_PUSH_AES_KEY"]) == 43
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
