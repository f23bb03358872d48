"""The one place that talks to the terminal: consoles, JSON output, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A rich Console made on first use, so `hitrec --help` never imports rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)

    # rich's live displays use `with console:`; special methods bypass __getattr__
    def __enter__(self) -> Any:
        return self.__getattr__("__enter__")()

    def __exit__(self, *exc: object) -> Any:
        return self.__getattr__("__exit__")(*exc)


console: Console = _LazyConsole(highlight=False)  # type: ignore[assignment]
err_console: Console = _LazyConsole(stderr=True, highlight=False)  # type: ignore[assignment]


def print_json(data: Any) -> None:
    if isinstance(data, list):  # one item a line: the C encoder (indent= would use the slow Python one)
        print_json_lines([json.dumps(item, ensure_ascii=False, default=str) for item in data])
        return
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def print_json_lines(documents: list[str]) -> None:
    """A JSON array of already-encoded documents, one a line."""
    sys.stdout.write("[\n  " + ",\n  ".join(documents) + "\n]\n" if documents else "[]\n")


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def escape(text: object) -> str:
    """User and repo data (titles, names, paths) printed inside rich markup must not be read as markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(str(text))


class Progress:
    """A progress callback for core code: ``progress(advance, total=None, description=None)``.

    Draws a rich progress bar on stderr when stderr is a terminal; otherwise it is silent.
    """

    def __init__(self, description: str, *, unit: str = "") -> None:
        self._bar: Any = None
        if not sys.stderr.isatty():  # nothing to draw on: skip importing rich.progress (~30 ms)
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
        if unit == "bytes":
            columns += [DownloadColumn(), TransferSpeedColumn()]
        else:
            columns += [MofNCompleteColumn()]
        columns.append(TimeRemainingColumn())
        self._bar = RichProgress(*columns, console=err_console, transient=True,
                                 disable=not err_console.is_terminal)
        self._task = self._bar.add_task(description, total=None)

    def __call__(self, advance: float = 0, total: float | None = None, description: str | None = None) -> None:
        if self._bar is None:
            return
        kwargs: dict[str, Any] = {"advance": advance}
        if total is not None:
            kwargs["total"] = total
        if description is not None:
            kwargs["description"] = description
        self._bar.update(self._task, **kwargs)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def progress(description: str, *, unit: str = "") -> Iterator[Progress]:
    with Progress(description, unit=unit) as bar:
        yield bar
