"""The local stand-ins for AWS: the official DynamoDB Local and moto's server (SQS).

DynamoDB Local comes from the npm package `amplify-dynamodb-simulator`, which ships
AWS's own jar; we take only the package tarball (`npm pack`, no dependency tree) and
run the jar with the machine's Java. Nothing here needs Docker or an AWS account.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
DDB_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
DDB_DIR = CACHE / "dynamodb-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now. The probe binds as the servers do,
    with SO_REUSEADDR (DynamoDB Local's Java, moto's werkzeug, http.server all set it):
    without it, the TIME_WAIT connections a stack stopped a moment ago leaves for a minute
    make a free port look taken."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def ensure_dynamodb_local() -> Path:
    """The folder holding DynamoDBLocal.jar, fetched once into .cache/ (safe to call concurrently)."""
    jar = DDB_DIR / "DynamoDBLocal.jar"
    if jar.exists():
        return DDB_DIR
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".dynamodb-local.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jar.exists():
            return DDB_DIR
        if not shutil.which("npm"):
            raise RuntimeError("npm is needed to fetch DynamoDB Local (apt-get install npm)")
        with tempfile.TemporaryDirectory() as tmp:
            print(f"fetching DynamoDB Local ({DDB_PACKAGE}) ...", file=sys.stderr, flush=True)
            out = subprocess.run(
                ["npm", "pack", DDB_PACKAGE, "--silent"],
                cwd=tmp, check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
            with tarfile.open(Path(tmp) / out) as tar:
                members = [m for m in tar.getmembers() if m.name.startswith("package/emulator/")]
                tar.extractall(tmp, members=members, filter="data")
            staged = Path(tmp) / "package" / "emulator"
            if DDB_DIR.exists():
                shutil.rmtree(DDB_DIR)
            shutil.move(str(staged), DDB_DIR)
    return DDB_DIR


class DynamoDBLocal:
    """AWS's DynamoDB Local on a loopback port, in memory unless a path is given."""

    def __init__(self, port: int | None = None, db_path: str | None = None):
        self.port = port or free_port()
        self.db_path = db_path
        self._proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        if not shutil.which("java"):
            raise RuntimeError("Java is needed for DynamoDB Local (apt-get install default-jre-headless)")
        home = ensure_dynamodb_local()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            raise RuntimeError(f"port {self.port} is already in use (another DynamoDB Local?)")
        if self.db_path:
            Path(self.db_path).mkdir(parents=True, exist_ok=True)
            # One database file whatever the access key and region (DynamoDB Local otherwise
            # keys its file on them, and a developer's own credentials would hide the data).
            storage = ["-dbPath", str(self.db_path), "-sharedDb"]
        else:
            storage = ["-inMemory"]
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            ["java", "-Xmx1g", f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
             "-jar", str(home / "DynamoDBLocal.jar"), "-port", str(self.port),
             "-disableTelemetry", *storage],
            # stderr to a file, not a pipe nobody drains (a full pipe would stall Java).
            cwd=home, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True, preexec_fn=_die_with_parent(),
        )
        try:
            _wait_for_process_port(self._proc, self.port, self._log, timeout=60)
        except BaseException:
            self.stop()
            raise
        return self.endpoint

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        self._proc = None


def _wait_for_process_port(proc: subprocess.Popen, port: int, log, timeout: float) -> None:
    """Like wait_for_port, but says why at once if the process died (a port in use, no Java)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"DynamoDB Local exited with {proc.returncode}: {err}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"DynamoDB Local did not listen on {port} after {timeout}s")


def _die_with_parent():
    """On Linux, have the child get SIGTERM when this process dies, even by SIGKILL, so no
    Java process outlives `make dev` or a test session. PR_SET_PDEATHSIG fires when the
    *thread* that started the child exits, so only arm it from the main thread."""
    import threading

    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None

    def arm() -> None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    return arm


class MotoServer:
    """moto in server mode (SQS locally), in this process on its own thread."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        import logging

        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO; the local stack's output is for the shop.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port)
        return self.endpoint

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None


def local_aws_env() -> None:
    """Dummy credentials so boto3 never looks for real ones on a developer's machine."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
