"""How the demo shows its steps: numbered headings, short lines, tables."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

__all__ = ["Narrator"]


class Narrator:
    """Prints the demo's story as it happens.

    Parameters
    ----------
    console
        Where to print.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._step = 0
        self.current_step = ""

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Announce a numbered step and report how long it took."""
        self._step += 1
        self.current_step = f"{self._step}. {title}"
        self.console.rule(f"[bold]{self._step}. {title}", align="left")
        started = time.perf_counter()
        yield
        self.console.print(f"[dim]   done in {time.perf_counter() - started:.2f} s[/]")

    def say(self, who: str, text: str) -> None:
        """Print one line attributed to a role (a party, a node, the cloud); no markup in it."""
        self.console.print(f"  [bold cyan]{escape(who):>9}[/] {escape(text)}")

    def warn(self, text: str) -> None:
        """Print a warning line that stands out."""
        self.console.print(f"  [bold yellow]warning[/] {escape(text)}")

    def table(self, table: Table) -> None:
        """Print a table, indented under the current step."""
        self.console.print(table)

    def block(self, text: str) -> None:
        """Print text exactly as given (no markup), indented, e.g. a command to be signed."""
        for line in text.splitlines():
            self.console.print(Text("            " + line, style="dim"), soft_wrap=True)

    def banner(self, text: str) -> None:
        """Print a line that nobody can miss (an insecure setting in use)."""
        self.console.print(Text(f"  !!! {text} !!!", style="bold black on yellow"))
