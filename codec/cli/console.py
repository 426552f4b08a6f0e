"""stderr reporting of the command line: errors, de-duplicated notices, a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["Console"]


class Console:
    """stderr reporting: errors, de-duplicated notices, an optional progress bar."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.seen: set[str] = set()
        self.suppressed = 0
        self.bar: Any = None
        self.done = self.total = 0.0

    def error(self, path: Path | str, message: str) -> None:
        """Print ``error: <path>: <message>``."""
        print(f"error: {path}: {message}", file=sys.stderr)

    def notice(self, kind: str, path: Path | str, message: str) -> None:
        """Print a note, once per ``kind``; later ones are only counted."""
        if kind in self.seen:
            self.suppressed += 1
            return
        self.seen.add(kind)
        if not self.quiet:
            print(f"note: {path}: {message}", file=sys.stderr)

    def start(self, total: float) -> None:
        """Show progress over ``total`` seconds of audio (a rich bar on a terminal)."""
        self.total, self.done = total, 0.0
        if self.quiet or not sys.stderr.isatty():
            return
        try:
            from rich.console import Console as RichConsole
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        except ImportError:  # rich is optional: a plain percentage instead
            self.bar = "plain"
            return
        self.bar = Progress(
            TextColumn("encoding"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}% of {task.total:.0f} s audio"),
            TimeRemainingColumn(),
            console=RichConsole(stderr=True),
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("encode", total=max(total, 1e-9))

    def advance(self, seconds: float) -> None:
        """Count ``seconds`` of audio as done."""
        self.done += seconds
        if self.bar == "plain":
            pct = 100 * self.done / max(self.total, 1e-9)
            print(f"\rencoding {pct:3.0f}% of {self.total:.0f} s audio", end="", file=sys.stderr)
        elif self.bar is not None:
            self.bar.update(self.task, advance=seconds)

    def stop(self) -> None:
        """End the progress display and say how many notices were not shown."""
        if self.bar == "plain":
            print(file=sys.stderr)
        elif self.bar is not None:
            self.bar.stop()
        self.bar = None
        if self.suppressed and not self.quiet:
            print(f"note: {self.suppressed} more similar notices not shown", file=sys.stderr)
