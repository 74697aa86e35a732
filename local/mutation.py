"""`make mutation`: mutmut over the pure money rules, then a score per module.

What is mutated and which tests run is `[tool.mutmut]` in pyproject.toml. Each run starts
from an empty `mutants/` (mutmut's mutated copy of the code) so that no result of an
earlier run, made against other code or other tests, is counted. The run fails when a
mutant survives that docs/mutation.md does not name as equivalent: a surviving mutant is a
rule no test holds, and the fix is a test (or, if the mutant shows a real bug, the code).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "mutation.md"
MUTMUT = str(Path(sys.executable).parent / "mutmut")
CAUGHT = {"killed", "timeout"}  # a mutant that never ends is caught too: the tests do not pass


def _run(*args: str) -> str:
    return subprocess.run([MUTMUT, *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def where(mutant: str) -> tuple[str, str]:
    """(module, function) of a mutant name: `layers.domain.payout.x_split__mutmut_3`,
    `layers.domain.pricing.xǁAmountsǁas_dict__mutmut_1`."""
    qualified = mutant.rsplit("__mutmut_", 1)[0]
    module, _, function = qualified.rpartition(".")
    if function.startswith("xǁ"):
        function = ".".join(function[2:].split("ǁ"))
    else:
        function = function.removeprefix("x_")
    return module.rsplit(".", 1)[-1], function


def mutated_lines(mutant: str) -> str:
    """The mutant's own lines, as in the doc's table: its `+` lines, stripped, joined by ' ⏎ '."""
    diff = _run("show", mutant).splitlines()
    return " ⏎ ".join(line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++"))


def equivalents() -> set[tuple[str, str, str]]:
    """(module, function, mutated line) of each row of the doc's table of equivalent mutants."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- equivalent:begin -->", 1)[1].split("<!-- equivalent:end -->", 1)[0]
    rows = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[2].startswith("`"):
            rows.add((cells[0], cells[1], cells[2].strip("`")))
    return rows


def results() -> dict[str, str]:
    status = {}
    for line in _run("results", "--all", "true").splitlines():
        name, sep, state = line.strip().partition(": ")
        if sep:
            status[name] = state
    return status


def main() -> int:
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    started = time.monotonic()
    subprocess.run([MUTMUT, "run"], cwd=ROOT, check=True)
    took = time.monotonic() - started
    status = results()
    known = equivalents()
    equivalent, alive = [], []
    for name, state in sorted(status.items()):
        if state in CAUGHT:
            continue
        module, function = where(name)
        (equivalent if (module, function, mutated_lines(name)) in known else alive).append((name, state))
    print(f"\nmutmut ran {len(status)} mutants in {took:.0f} s")
    print(f"{'module':<12}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'alive':>7}{'score':>9}")
    for module in sorted({where(n)[0] for n in status}):
        names = [n for n in status if where(n)[0] == module]
        killed = sum(status[n] in CAUGHT for n in names)
        eq = sum(where(n)[0] == module for n, _ in equivalent)
        left = sum(where(n)[0] == module for n, _ in alive)
        print(f"{module:<12}{len(names):>8}{killed:>8}{eq:>8}{left:>7}{killed / (len(names) - eq):>9.1%}")
    for name, state in alive:
        print(f"ALIVE ({state}): {name}   `{mutated_lines(name)}`   (mutmut show {name})")
    if alive:
        print(f"{len(alive)} mutants survive that docs/mutation.md does not name as equivalent", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
