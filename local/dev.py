"""`make dev`: the whole shop on this machine.

DynamoDB Local (data kept in .cache/dynamodb-data, or in memory with --fresh), moto's
server for SQS, the WeChat sandbox when no WeChat settings are given, the table and queues
of infra/resources.json, the HTTP API on $PORT (Chalice's local server), the SQS consumers
and the schedules (local/runtime.py), and a demo shop. Ctrl-C stops all of it.

    python -m local.dev [--port 8000] [--fresh] [--no-seed] [--env-file .env.local]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local.services import (  # noqa: E402
    CACHE,
    DynamoDBLocal,
    MotoServer,
    port_is_free,
)

DATA_DIR = CACHE / "dynamodb-data"
ENV_FILE = ROOT / ".env.local"
GENERATED = ("ADMIN_API_KEY", "TOKEN_SECRET", "PII_KEY")
WECHAT_SETTINGS = ("WECHAT_APPID", "WECHAT_APP_SECRET", "WECHATPAY_MCHID", "WECHATPAY_APIV3_KEY",
                   "WECHATPAY_MERCHANT_PRIVATE_KEY", "WECHATPAY_MERCHANT_SERIAL")


def step(msg: str) -> Callable[[str], None]:
    """Print `msg ...` now and its outcome when done: one progress line per step."""
    print(f"  {msg} ...", end="", flush=True)
    started = time.monotonic()

    def done(result: str = "ok") -> None:
        print(f" {result} ({time.monotonic() - started:.1f}s)", flush=True)
    return done


def ports_in_use(args: argparse.Namespace) -> list[str]:
    """One line per port of the stack something else listens on. The ports are fixed (the
    docs' commands name them): a taken one stops the start, never moves the service."""
    wanted = (("HTTP API", args.port, "PORT", "--port"),
              ("DynamoDB Local", args.dynamodb_port, "DYNAMODB_PORT", "--dynamodb-port"),
              ("SQS (moto server)", args.sqs_port, "SQS_PORT", "--sqs-port"),
              ("WeChat sandbox", args.sandbox_port, "SANDBOX_PORT", "--sandbox-port"))
    settings = {**read_env_file(Path(args.env_file)), **os.environ}
    if _real_wechat(settings):
        wanted = wanted[:3]  # no sandbox to start
    return [f"port {port} ({what}) is in use: stop what listens there (ss -ltnp 'sport = :{port}'), "
            f"or choose another with {env}= (or {flag})"
            for what, port, env, flag in wanted if not port_is_free(port)]


# ---------------------------------------------------------------------------- .env.local


def read_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace("\\n", "\n") if value[0] == '"' else value[1:-1]
        out[key.strip()] = value
    return out


def _generated(key: str) -> str:
    if key == "ADMIN_API_KEY":
        return f"local-admin-{secrets.token_urlsafe(24)}"
    if key == "PII_KEY":
        from layers.storage.pii import new_key

        return new_key()
    return secrets.token_hex(32)


def local_secrets(path: Path) -> tuple[dict[str, str], list[str]]:
    """Settings from the environment and `path`; ADMIN_API_KEY, TOKEN_SECRET and PII_KEY (the
    key shoppers' addresses are sealed with) are generated (and appended to `path`) where
    neither has them. Returns (settings, generated)."""
    from_file = read_env_file(path)
    for key, value in from_file.items():
        os.environ.setdefault(key, value)
    generated = []
    for key in GENERATED:
        if not os.environ.get(key):
            os.environ[key] = _generated(key)
            generated.append(key)
    if generated:
        existing = path.read_text() if path.exists() else "# make dev: local settings (gitignored)\n"
        if existing and not existing.endswith("\n"):
            existing += "\n"
        path.write_text(existing + "".join(f"{k}={os.environ[k]}\n" for k in generated))
        path.chmod(0o600)
    return {k: os.environ[k] for k in GENERATED}, generated


# ---------------------------------------------------------------------------- the stack


class Stack:
    def __init__(self) -> None:
        self._stops: list[tuple[str, Callable[[], None]]] = []

    def on_stop(self, what: str, fn: Callable[[], None]) -> None:
        self._stops.append((what, fn))

    def stop(self) -> None:
        while self._stops:
            what, fn = self._stops.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                print(f"  stopping {what}: {exc}", file=sys.stderr)


def _force_local_aws() -> None:
    """Dummy credentials and no profile: nothing the local stack does can reach real AWS."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(key, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})


def _real_wechat(settings) -> bool:
    return all(settings.get(k) for k in ("WECHAT_APPID", "WECHATPAY_MCHID"))


def _start_sandbox(stack: Stack, port: int) -> str | None:
    if _real_wechat(os.environ):
        print("  WeChat settings given: using them, no sandbox")
        return None
    done = step("WeChat sandbox")
    # -- its own process (`python -m sandbox`): inside the API's process, a crowd
    # of requests starves it of the interpreter lock and calls to WeChat time out.
    import shlex
    import subprocess

    proc = subprocess.Popen([sys.executable, "-u", "-m", "sandbox", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    stack.on_stop("WeChat sandbox", lambda: (proc.terminate(), proc.wait(10)))
    from sandbox.server import SETTINGS_END

    printed = ""
    for line in proc.stdout:  # its settings, as shell exports, up to the line that ends them
        if line.strip() == SETTINGS_END:
            break
        printed += line
    threading.Thread(target=proc.stdout.read, daemon=True, name="sandbox-stdout").start()  # never a full pipe
    if proc.poll() is not None:
        done(f"did not start (exit {proc.returncode}); WeChat calls will fail")
        return None
    for token in shlex.split(printed):
        if "=" in token:
            key, value = token.split("=", 1)
            os.environ[key] = value
    base = f"http://127.0.0.1:{port}"
    done(f"{base} (pid {proc.pid})")
    return base


def _load_app(stage: str):
    """Import app.py as `chalice local` does: stage config applied to os.environ first."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.validate import validate_routes

    factory = CLIFactory(project_dir=str(ROOT), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    return app, config


# -- a dev server that takes a crowd ---------------------------------------------
# Chalice's local server listens with Python's default backlog of 5: two dozen clients
# arriving together get connection resets. And Chalice keeps the request being served in
# one attribute of the app (`app.current_request`), which Lambda can afford (one request
# per process) but a threaded server cannot: two threads would read each other's request.

LISTEN_BACKLOG = 1024
# Requests served at once; the other connections wait their turn, accepted. One Python
# process serves the API, the in-process WeChat sandbox and the consumers: 200 threads
# all runnable would starve the sandbox's own threads of the interpreter lock (logins
# then time out waiting for code2session) and give every request the worst latency.
MAX_IN_FLIGHT = 16


def thread_safe_requests(app) -> None:
    """Make `app.current_request` (and `lambda_context`) per thread, as one Lambda
    container per request would have them."""
    slot = threading.local()

    def attribute(name):
        return property(lambda self: getattr(slot, name, None), lambda self, value: setattr(slot, name, value))

    app.__dict__.pop("current_request", None)
    app.__dict__.pop("lambda_context", None)
    app.__class__ = type(f"ThreadLocal{type(app).__name__}", (type(app),),
                         {"current_request": attribute("current_request"),
                          "lambda_context": attribute("lambda_context")})


def crowd_server(app, config, host: str, port: int):
    """Chalice's LocalDevServer (one thread per connection) with a deep listen backlog,
    a per-thread current request, and API Gateway's answers where chalice local has its
    own: an unknown route or method is 403/405 in the contract's error envelope (as
    infra's gateway responses make it in AWS), not a bare message or an HTML page."""
    import json

    from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

    class CrowdHTTPServer(ThreadedHTTPServer):
        request_queue_size = LISTEN_BACKLOG
        daemon_threads = True
        in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    class GatewayLikeHandler(ChaliceRequestHandler):
        def _generic_handle(self) -> None:
            try:
                with self.server.in_flight:
                    super()._generic_handle()
            except UnicodeEncodeError:  # chalice local echoes a non-ASCII Authorization of an unknown route
                self._gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", {})

        def _send_error_response(self, error) -> None:
            try:
                message = json.loads(error.body or b"{}").get("message", "")
            except (ValueError, AttributeError):
                message = ""
            code = "MISSING_AUTHENTICATION_TOKEN" if error.CODE == 403 else "UNAUTHORIZED"
            self._gateway_error(error.CODE, code, message, error.headers or {})

        def _gateway_error(self, status: int, code: str, message: str, headers: dict) -> None:
            body = json.dumps({"error": {"code": code, "message": message[:200]}})
            self._send_http_response(status, {**headers, "Content-Type": "application/json"}, body)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # The standard library's own refusals (an unknown method, a bad request line).
            status = 405 if code == 501 else code
            body = json.dumps({"error": {"code": "METHOD_NOT_ALLOWED" if code == 501 else "INVALID_REQUEST",
                                         "message": message or ""}}).encode()
            self.close_connection = True
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and status >= 200 and status not in (204, 304):
                self.wfile.write(body)

    thread_safe_requests(app)
    return LocalDevServer(app, config, host, port, handler_cls=GatewayLikeHandler, server_cls=CrowdHTTPServer)


def _wait_healthy(base_url: str, timeout: float = 30.0) -> bool:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(base_url + "/health", timeout=2).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    from local.bootstrap import create_queues, create_tables
    from local.runtime import LocalRuntime

    stack = Stack()
    port = int(args.port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        print("Starting the shop locally")
        _force_local_aws()
        secrets_, generated = local_secrets(Path(args.env_file))
        os.environ["PORT"] = str(port)
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
        # -- every local client comes from 127.0.0.1; limit per openid only.
        os.environ.setdefault("LOGIN_LIMIT_PER_ADDRESS", "0")

        done = step("DynamoDB Local")
        ddb = DynamoDBLocal(port=args.dynamodb_port,
                            db_path=None if args.fresh else str(DATA_DIR))
        ddb.start()
        stack.on_stop("DynamoDB Local", ddb.stop)
        done(f"{ddb.endpoint} (pid {ddb.pid}, " + ("in memory" if args.fresh else
                                                  f"data in {DATA_DIR.relative_to(ROOT)}") + ")")

        done = step("SQS (moto server)")
        sqs = MotoServer(port=args.sqs_port)
        sqs.start()
        stack.on_stop("moto server", sqs.stop)
        done(sqs.endpoint)

        sandbox_base = _start_sandbox(stack, args.sandbox_port)

        done = step("table and queues from infra/resources.json")
        stage = "dev"
        os.environ["STAGE"] = stage
        os.environ.update({"DYNAMODB_ENDPOINT": ddb.endpoint, "SQS_ENDPOINT": sqs.endpoint})
        os.environ.update(create_tables(ddb.endpoint, table_name=args.table))
        os.environ.update(create_queues(sqs.endpoint, stage=stage))
        from local.bootstrap import create_buckets  # the share-code bucket, in moto's S3

        os.environ.update(create_buckets(sqs.endpoint, stage=stage))
        os.environ.setdefault("WECHATPAY_NOTIFY_BASE_URL", base_url)
        done(f"table {args.table}, 3 queues + dead-letter queues")

        done = step("HTTP API (chalice local)")
        app, config = _load_app(stage)
        server = crowd_server(app, config, "127.0.0.1", port)
        thread = threading.Thread(target=server.server.serve_forever, name="http", daemon=True)
        thread.start()

        def stop_http() -> None:
            server.shutdown()
            server.server.server_close()
        stack.on_stop("HTTP server", stop_http)
        healthy = _wait_healthy(base_url)
        done(base_url if healthy else f"{base_url} (GET /health is not 200 yet)")

        done = step("SQS consumers and schedules")
        runtime = LocalRuntime(app, sqs.endpoint, visibility_timeout_s=30).start()
        stack.on_stop("local runtime", runtime.stop)
        done(f"{len(runtime.sqs_sources())} consumers, {len(runtime.schedules)} schedules (Asia/Shanghai)")

        if not args.no_seed:
            try:
                from local.seed import seed
            except ImportError:
                seed = None
            if seed is not None:
                done = step("demo shop")
                try:
                    result = seed(base_url, secrets_["ADMIN_API_KEY"])
                    done("seeded" if result is not None else "ok")
                except Exception as exc:  # noqa: BLE001 - the shop runs without its demo data
                    done(f"failed: {exc}")

        print()
        print(f"  API             {base_url}    curl {base_url}/health")
        if sandbox_base:
            print(f"  WeChat sandbox  {sandbox_base}")
        print(f"  DynamoDB Local  {ddb.endpoint}    table {args.table}")
        print(f"  SQS             {sqs.endpoint}")
        print(f"  ADMIN_API_KEY   {secrets_['ADMIN_API_KEY']}")
        print(f"  Console         {base_url}/console    sign in: owner / the ADMIN_API_KEY")
        print(f"  TOKEN_SECRET    {secrets_['TOKEN_SECRET'][:8]}...   "
              + (f"(new, saved in {args.env_file})" if generated else f"(from {args.env_file} or the environment)"))
        print("  Ctrl-C stops everything.", flush=True)
        stop.wait()
        print("\nStopping ...", flush=True)
        return 0
    finally:
        stack.stop()
        print("Stopped.", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run the shop locally.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--fresh", action="store_true", help="DynamoDB in memory: start from nothing")
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo shop")
    parser.add_argument("--env-file", default=str(ENV_FILE))
    parser.add_argument("--table", default="shop-local")
    parser.add_argument("--dynamodb-port", type=int, default=int(os.environ.get("DYNAMODB_PORT", "8001")))
    parser.add_argument("--sqs-port", type=int, default=int(os.environ.get("SQS_PORT", "8002")))
    parser.add_argument("--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8900")))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    taken = ports_in_use(args)
    if taken:
        print("make dev did not start:\n  " + "\n  ".join(taken), file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return run(args, stop)


if __name__ == "__main__":
    sys.exit(main())
