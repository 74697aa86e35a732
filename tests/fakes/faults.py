"""Fault injection for the in-memory WeChat Pay fakes: the next calls of a name raise an
error, either before WeChat acts or (after=True) once it has: a lost answer, the money
moved."""

from __future__ import annotations


class Faults:
    def __init__(self) -> None:
        self._pending: list[list] = []

    def add(self, call: str, error: Exception, times: int = 1, after: bool = False) -> None:
        self._pending.append([call, error, times, after])

    def raise_if_due(self, call: str, after: bool) -> None:
        for f in self._pending:
            if f[0] == call and f[2] > 0 and f[3] == after:
                f[2] -= 1
                raise f[1]
