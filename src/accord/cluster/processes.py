"""One child process of a local cluster: started, watched for its ready line, stopped.

A :class:`ManagedProcess` runs an ``accord`` subcommand, copies its standard output to a log
file while scanning it for the line that says the process is serving, sends standard error
to a second log file, and stops the process with SIGTERM, then SIGKILL after a grace period.
Every wait has a deadline; a process that dies or stays silent is reported with the tail
of its standard error, so that the cause is visible without opening the logs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Final

from accord.errors import ConfigurationError, TransportError

__all__ = ["STDERR_TAIL_LINES", "ManagedProcess", "accord_command"]

_log = logging.getLogger("accord.cluster")

STDERR_TAIL_LINES: Final = 20
"""How many lines of a failed process's standard error an error message quotes."""


def accord_command() -> list[str]:
    """Return the command line that runs the ``accord`` console script of this interpreter.

    The script installed next to :data:`sys.executable` is preferred (the same one a user
    runs); without it, the interpreter runs the command line's entry point directly.

    Returns
    -------
    list[str]
        The program and its leading arguments.
    """
    script = Path(sys.executable).with_name("accord")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("accord", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    return [sys.executable, "-c", "from accord.cli.app import main; main()"]


class ManagedProcess:
    """A child process with logged output, a ready-line wait and a graceful stop.

    Parameters
    ----------
    name
        A short name for messages and log files (e.g. ``"node-1"``).
    arguments
        The full command line.
    log_dir
        Where ``<name>.stdout.log`` and ``<name>.stderr.log`` are written.
    ready_pattern
        A regular expression matched against each standard output line; the first match
        means the process is serving.
    env
        Extra environment variables for the child.
    """

    def __init__(
        self,
        name: str,
        arguments: Sequence[str],
        *,
        log_dir: Path,
        ready_pattern: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self._arguments = list(arguments)
        self._pattern = re.compile(ready_pattern)
        self._match: re.Match[str] | None = None
        self._ready = threading.Event()
        self._eof = threading.Event()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_log = log_dir / f"{name}.stdout.log"
        self.stderr_log = log_dir / f"{name}.stderr.log"
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        _log.info("starting %s: %s", name, " ".join(self._arguments))
        with self.stderr_log.open("ab") as stderr:
            try:
                self._process = subprocess.Popen(  # noqa: S603 (our own console script)
                    self._arguments,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=child_env,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot start {name} ({self._arguments[0]}): {exc.strerror}",
                    hint="Check that Accord is installed in this Python environment.",
                ) from None
        self._reader = threading.Thread(
            target=self._read_stdout, name=f"accord-{name}-stdout", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while the process runs."""
        return self._process.poll()

    def _read_stdout(self) -> None:
        stream: IO[bytes] | None = self._process.stdout
        if stream is None:  # pragma: no cover - Popen was given stdout=PIPE
            return
        with self.stdout_log.open("ab") as log, stream:
            for raw in iter(stream.readline, b""):
                log.write(raw)
                log.flush()
                if not self._ready.is_set():
                    match = self._pattern.search(raw.decode("utf-8", "replace"))
                    if match is not None:
                        self._match = match
                        self._ready.set()
        self._eof.set()

    def wait_ready(self, timeout: float) -> re.Match[str]:
        """Wait until the process prints its ready line; return the match.

        Parameters
        ----------
        timeout
            Seconds to wait at most.

        Returns
        -------
        re.Match[str]
            The match of the ready pattern (its groups carry the address, session id, ...).

        Raises
        ------
        TransportError
            If the process exits first or prints nothing matching within ``timeout``;
            the message quotes the tail of its standard error.
        """
        deadline = time.monotonic() + timeout
        while not self._ready.wait(timeout=0.05):
            if self._eof.is_set() or self._process.poll() is not None:
                self._process.wait(timeout=5)
                raise TransportError(
                    f"{self.name} exited with status {self._process.returncode} before it was "
                    f"ready{self._stderr_tail_text()}",
                    hint=f"See {self.stderr_log} for the whole output.",
                )
            if time.monotonic() >= deadline:
                raise TransportError(
                    f"{self.name} did not print its ready line within {timeout:g} s"
                    f"{self._stderr_tail_text()}",
                    hint=f"See {self.stdout_log} and {self.stderr_log}.",
                )
        assert self._match is not None
        return self._match

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> list[str]:
        """Return the last ``lines`` lines of the process's standard error."""
        try:
            text = self.stderr_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def _stderr_tail_text(self) -> str:
        tail = self.stderr_tail()
        if not tail:
            return " (its standard error is empty)"
        return "; its standard error ends with:\n  " + "\n  ".join(tail)

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the process if it still runs."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signum)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL) and reap it."""
        self.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        self._reader.join(timeout=2)

    def stop(self, grace: float) -> int | None:
        """Stop the process: SIGTERM, then SIGKILL after ``grace`` seconds.

        Returns
        -------
        int | None
            The exit status (None only if the process could not be reaped).
        """
        if self._process.poll() is None:
            self.send_signal(signal.SIGCONT)
            self.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _log.warning("%s did not stop within %.1f s; killing it", self.name, grace)
                self.kill()
        self._reader.join(timeout=2)
        return self._process.poll()
