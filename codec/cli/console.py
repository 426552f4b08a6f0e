"""stderr reporting of the command line: errors, de-duplicated notices, ``--verbose`` lines and
the progress bar every long-running subcommand shares."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from torch import Tensor

__all__ = ["Console", "counted"]


def counted(
    blocks: Iterable[Tensor], rate: int, tick: Callable[[float], object]
) -> Iterator[Tensor]:
    """``blocks`` ``[..., n]`` at ``rate`` Hz, telling ``tick`` the seconds of each once it
    has been handled (progress in audio seconds)."""
    for block in blocks:
        yield block
        tick(block.shape[-1] / rate)


class Console:
    """stderr reporting: errors, de-duplicated notices, verbose lines, an optional progress bar
    (only on a terminal, never with ``quiet``)."""

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet, self.verbose = quiet, verbose and not quiet
        self.seen: set[str] = set()
        self.suppressed = 0
        self.bar: Any = None
        self.done = self.total = 0.0
        self.label, self.unit = "encoding", "s audio"

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

    def info(self, message: str) -> None:
        """Print ``message`` with ``--verbose`` only (per-file lines, timings)."""
        if self.verbose:
            print(message, file=sys.stderr)

    @property
    def shows_progress(self) -> bool:
        """Whether :meth:`start` shows progress: on a terminal, without ``quiet``."""
        return not self.quiet and sys.stderr.isatty()

    def start(self, total: float, label: str = "encoding", unit: str = "s audio") -> None:
        """Show progress over ``total`` units (a rich bar on a terminal, e.g. ``encoding 40% of
        12 s audio``)."""
        self.total, self.done, self.label, self.unit = total, 0.0, label, unit
        if not self.shows_progress:
            return
        try:
            from rich.console import Console as RichConsole
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        except ImportError:  # rich is optional: a plain percentage instead
            self.bar = "plain"
            return
        self.bar = Progress(
            TextColumn(label, markup=False),
            BarColumn(),
            TextColumn(f"{{task.percentage:>3.0f}}% of {{task.total:.0f}} {unit}", markup=False),
            TimeRemainingColumn(),
            console=RichConsole(stderr=True),
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task(label, total=max(total, 1e-9))

    def advance(self, amount: float) -> None:
        """Count ``amount`` units as done."""
        self.done += amount
        if self.bar == "plain":
            pct = 100 * self.done / max(self.total, 1e-9)
            text = f"\r{self.label} {pct:3.0f}% of {self.total:.0f} {self.unit}"
            print(text, end="", file=sys.stderr)
        elif self.bar is not None:
            self.bar.update(self.task, advance=amount)

    def stop(self) -> None:
        """End the progress display and say how many notices were not shown."""
        if self.bar == "plain":
            print(file=sys.stderr)
        elif self.bar is not None:
            self.bar.stop()
        self.bar = None
        if self.suppressed and not self.quiet:
            print(f"note: {self.suppressed} more similar notices not shown", file=sys.stderr)
