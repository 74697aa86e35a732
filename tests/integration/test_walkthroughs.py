"""The docs' walkthroughs run as written, so they cannot rot: every ```sh block under a
"Walkthrough" heading of docs/*.md runs with `bash -euo pipefail` against a `make dev`
stack (`python -m local.dev --fresh`) started here on free ports, handed to the blocks
through the variables they read (`API`, `SANDBOX`, `ENV_FILE`). The block under
"Walkthrough setup" runs first in each, as a reader pastes it first."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from local.services import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SETUP = "Walkthrough setup"
READY = "Ctrl-C stops everything."
# Areas that must keep a walkthrough: deleting one fails here, not in a newcomer's terminal.
EXPECTED = ("purchase", "bargain", "assistance", "group buy", "members", "top-up", "analytics", "checkout", "freight",
            "promotion", "after-sale")
# Only what a developer's shell has: the test session's own settings (its admin key, its
# DynamoDB Local) must not leak into the stack, which makes and saves its own.
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "PYTHONDONTWRITEBYTECODE")


def walkthroughs(docs: Path = DOCS) -> tuple[str, dict[str, str]]:
    """(setup block, {"<file>: <heading>": its sh blocks joined}) from the docs. Read line by
    line: a `#` inside a fence is a shell comment, not a heading."""
    setup, found = "", {}
    for page in sorted(docs.glob("*.md")):
        heading, fence, block = None, None, []
        for line in page.read_text().splitlines():
            if fence is not None:
                if line.startswith("```"):
                    if fence == "sh" and heading and heading.startswith("Walkthrough"):
                        key = SETUP if heading == SETUP else f"{page.name}: {heading}"
                        found[key] = (found.get(key, "") + "\n" + "\n".join(block)).lstrip("\n")
                    fence, block = None, []
                else:
                    block.append(line)
            elif line.startswith("```"):
                fence = line[3:].strip()
            elif re.match(r"#{1,6} ", line):
                heading = line.lstrip("#").strip()
        setup = found.pop(SETUP, setup)
    return setup, found


SETUP_BLOCK, WALKTHROUGHS = walkthroughs()


def test_the_docs_have_a_setup_and_a_walkthrough_for_every_area():
    assert SETUP_BLOCK, f"no sh block under '## {SETUP}' in docs/"
    names = " ".join(WALKTHROUGHS).lower()
    missing = [area for area in EXPECTED if area not in names]
    assert not missing, f"no walkthrough for {missing}; found {list(WALKTHROUGHS)}"


@pytest.fixture(scope="module")
def stack():
    if not (shutil.which("java") and shutil.which("curl")):
        pytest.skip("the local stack needs Java (DynamoDB Local) and curl")
    ports = {name: free_port() for name in ("port", "dynamodb-port", "sqs-port", "sandbox-port")}
    workdir = Path(tempfile.mkdtemp(prefix="walkthroughs-"))
    env_file = workdir / ".env.local"
    log = open(workdir / "make-dev.log", "w+")
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "local.dev", "--fresh", "--env-file", str(env_file),
         *[f"--{name}={port}" for name, port in ports.items()]],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    ready = threading.Event()

    def pump() -> None:  # the stack's output (its logs) to a file; never a full pipe
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if READY in line:
                ready.set()
    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 180
    while not ready.is_set() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if not ready.is_set():
        proc.kill()
        log.seek(0)
        pytest.fail(f"make dev did not start:\n{log.read()[-4000:]}")
    yield {"API": f"127.0.0.1:{ports['port']}", "SANDBOX": f"127.0.0.1:{ports['sandbox-port']}",
           "ENV_FILE": str(env_file), "cwd": workdir, "log": log, **env}
    os.killpg(proc.pid, signal.SIGTERM)  # Ctrl-C's path: the stack stops what it started
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("name", list(WALKTHROUGHS))
def test_walkthrough_runs_as_written(stack, name):
    script = SETUP_BLOCK + "\n" + WALKTHROUGHS[name]
    env = {k: v for k, v in stack.items() if k not in ("cwd", "log")}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=stack["cwd"], env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        stack["log"].seek(0)
        server = stack["log"].read()[-3000:]
        pytest.fail(f"{name} exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n"
                    f"--- stderr\n{result.stderr[-3000:]}\n--- make dev's last lines\n{server}")
