"""Progress of long work on a terminal: one display for every command.

A rich bar (counted work: `drift report`'s targets, `make bench`'s runs) or a status line
(a `docker build` for `snapshot --verify` and `diff --build`) on stderr, only when stderr
is a terminal and not `--quiet`: a pipe, a log file or cron gets nothing, and stdout is
never touched. Labels may come from images (untrusted): control characters are escaped.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, Protocol

from drift.say import printable as safe  # names from images (untrusted): no control character is drawn


def shown(quiet: bool = False) -> bool:
    """Whether progress is drawn: stderr is a terminal and the user did not ask for quiet."""
    try:
        return not quiet and sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stderr
        return False


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def step(self, label: str) -> None: ...
    def stop(self) -> None: ...


class NoProgress:
    """Nothing drawn (not a terminal, --quiet, tests)."""

    def start(self, total: int) -> None:
        pass

    def step(self, label: str) -> None:
        pass

    def stop(self) -> None:
        pass


class Bar:
    """A rich progress bar over counted work, on stderr; `step` names the item started."""

    def __init__(self, title: str) -> None:
        self._title = title
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("{task.fields[title]}", markup=False),  # text as is: no format, no markup
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("", total=total, title=safe(self._title))

    def step(self, label: str) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            if task.description:
                self._progress.advance(self._task)
            self._progress.update(self._task, description=safe(label))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def bar(title: str, *, quiet: bool = False) -> Progress:
    """A Bar on a terminal, else nothing."""
    return Bar(title) if shown(quiet) else NoProgress()


class Status:
    """A one-line status (spinner, elapsed time, the latest step) while `update` is fed."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress = progress
        self._task = task

    def update(self, text: str) -> None:
        line = " ".join(text.split())
        if self._progress is not None and line:
            self._progress.update(self._task, description=safe(line[-120:]))


@contextlib.contextmanager
def status(title: str, *, quiet: bool = False) -> Iterator[Status]:
    """`with status("docker build x") as s: s.update("Step 2/5 : RUN ...")` — drawn only on a terminal."""
    if not shown(quiet):
        yield Status()
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = RichProgress(
        SpinnerColumn(),
        TextColumn("{task.fields[title]}", markup=False),
        TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),
        console=Console(file=sys.stderr),
        transient=True,
    )
    with progress:
        yield Status(progress, progress.add_task("", total=None, title=safe(title)))
