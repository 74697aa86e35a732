"""Cold start of the packaged handlers: how long a fresh interpreter, with only the
deployment zip (and Lambda's boto3) on its path, takes to import each handler module of the
template; median of 5 runs. Then the zip's size and its heaviest top-level entries, and
the slowest imports of the API handler (`python -X importtime`).

    python bench/cold_start.py      (builds build/package first if it is stale)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local.package import OUT_DIR, lambda_python, package, unpack  # noqa: E402

RUNS = 5


def import_seconds(unpacked: Path, module: str, attr: str) -> float:
    code = (f"import time; t = time.perf_counter(); import importlib; "
            f"getattr(importlib.import_module({module!r}), {attr!r}); print(time.perf_counter() - t)")
    proc = lambda_python(unpacked, code)
    if proc.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{proc.stderr[-3000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def slowest_imports(unpacked: Path, module: str, top: int = 12) -> list[tuple[int, str]]:
    proc = lambda_python(unpacked, f"import {module}", extra_args=("-X", "importtime"))
    rows = []
    for line in proc.stderr.splitlines():  # "import time:  self | cumulative | <indent>name"
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in line:
            continue
        name = parts[2][1:]
        if name.startswith("  ") and not name.startswith("   "):  # what the handler module imports
            rows.append((int(parts[1]), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    out = package("prod", OUT_DIR, lint=False, if_stale=True)
    zip_path = out / "deployment.zip"
    template = json.loads((out / "sam.json").read_text())
    handlers = sorted({r["Properties"]["Handler"] for r in template["Resources"].values()
                       if r["Type"] == "AWS::Serverless::Function"})
    with tempfile.TemporaryDirectory() as tmp:
        unpacked = unpack(zip_path, Path(tmp))
        print(f"cold import of the packaged handlers (fresh interpreter, zip only, median of {RUNS}):")
        for handler in handlers:
            module, _, attr = handler.rpartition(".")
            times = [import_seconds(unpacked, module, attr) for _ in range(RUNS)]
            print(f"  {handler:45s} {statistics.median(times) * 1000:7.0f} ms"
                  f"   (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")
        print("\nwhat app.py imports, slowest first (cumulative, one run):")
        for us, name in slowest_imports(unpacked, "app"):
            print(f"  {name:30s} {us / 1000:7.1f} ms")

    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i in infos:
        top = i.filename.split("/", 1)[0]
        if top.endswith(".dist-info"):
            top = "(dist-info)"
        sizes[top][0] += i.file_size
        sizes[top][1] += i.compress_size
    total = sum(i.file_size for i in infos)
    print(f"\ndeployment.zip: {zip_path.stat().st_size / 1e6:.1f} MB zipped, {total / 1e6:.1f} MB unzipped "
          f"(Lambda's limits: 50 MB zipped upload, 250 MB unzipped), {len(infos)} files")
    for top, (size, packed) in sorted(sizes.items(), key=lambda kv: -kv[1][0])[:12]:
        print(f"  {top:30s} {size / 1e6:6.1f} MB  ({packed / 1e6:.1f} MB zipped)")


if __name__ == "__main__":
    main()
