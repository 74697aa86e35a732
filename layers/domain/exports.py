"""Exports: files too big to answer in one response, written in parts to a bucket and
handed over as a short-lived link (layers/storage/exports.py)."""

from __future__ import annotations

from typing import Protocol


class ExportFile(Protocol):
    def write(self, data: bytes) -> None:
        """Append; the bytes go out in parts as they fill, never all held at once."""

    def close(self) -> None:
        """The file is complete and readable at its key."""

    def abort(self) -> None:
        """Nothing of it stays (a failed export leaves no half file)."""


class Exports(Protocol):
    def open(self, key: str, content_type: str) -> ExportFile: ...

    def url(self, key: str, filename: str) -> str:
        """A link that downloads the finished file as `filename`, for a few minutes."""
