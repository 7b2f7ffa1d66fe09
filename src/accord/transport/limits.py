"""Limits that keep a server answering while some callers hold calls open.

A gRPC server of Accord serves calls from a fixed pool of worker threads. A streaming call
holds its worker for as long as the stream lasts, so callers that open streams and then send
(or read) nothing could hold every worker and freeze the server for everyone. Two
mechanisms prevent that:

- :class:`ConcurrencyLimit`: at most ``total`` calls of one kind at once (and at most
  ``per_caller`` for one authenticated caller). A call beyond the limit is refused at once
  with :class:`ServerBusyError` (status ``RESOURCE_EXHAUSTED``), and the workers left over
  keep serving the short calls (status, listings, approvals).
- idle timeouts: :func:`receive_with_idle_timeout` ends a client stream that sends no
  message for ``idle_timeout`` seconds with :class:`StreamIdleError` (status
  ``DEADLINE_EXCEEDED``); :func:`send_with_idle_timeout` cancels a server stream whose
  client reads nothing for that long.

Both errors are kinds of :class:`~accord.errors.TransportError`, and a client raises the
same kind again (:func:`accord.transport.error_from_rpc`), with a message naming the limit
or the timeout, so a caller may wait and try again after a :class:`ServerBusyError`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Final, TypeVar

import grpc

from accord.errors import TransportError, UsageError

__all__ = [
    "DEFAULT_STREAM_IDLE_SECONDS",
    "ConcurrencyLimit",
    "ServerBusyError",
    "StreamIdleError",
    "receive_with_idle_timeout",
    "send_with_idle_timeout",
]

DEFAULT_STREAM_IDLE_SECONDS: Final = 30.0
"""How long a stream may carry no message before the server ends it, by default."""

_READ_AHEAD: Final = 2
_PUT_POLL_SECONDS: Final = 0.5
_logger = logging.getLogger("accord.transport")

_T = TypeVar("_T")


class ServerBusyError(TransportError):
    """A server refused a call because too many calls of its kind are in progress.

    Servers signal it with status ``RESOURCE_EXHAUSTED``; the client raises it again with
    the same message.
    """

    default_hint = "Try again when the calls in progress have finished."


class StreamIdleError(TransportError):
    """A stream carried no message for longer than the server's idle timeout.

    Servers signal it with status ``DEADLINE_EXCEEDED``; the client raises it again with
    the same message.
    """

    default_hint = "Send the data without pausing; start the upload again."


def _check_positive(value: float, name: str) -> None:
    if isinstance(value, bool) or not value > 0:
        raise UsageError(f"{name} must be a positive number, got {value!r}")


class ConcurrencyLimit:
    """At most ``total`` calls of one kind at once, and at most ``per_caller`` per caller.

    Parameters
    ----------
    what
        The calls, in the plural, for messages (e.g. ``"blob uploads"``).
    total
        The most calls of this kind served at once.
    per_caller
        The most calls of this kind one caller may have at once (callers as
        :meth:`hold` names them); ``None`` for no per-caller limit.
    server
        How messages name the server (e.g. ``"this node"``).

    Raises
    ------
    UsageError
        If a limit is not a positive whole number.
    """

    def __init__(
        self, what: str, *, total: int, per_caller: int | None = None, server: str = "the server"
    ) -> None:
        for name, value in (("total", total), ("per_caller", per_caller)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise UsageError(f"the {what} limit {name} must be a whole number, got {value!r}")
            if value is not None and value < 1:
                raise UsageError(f"the {what} limit {name} must be at least 1, got {value}")
        self._what = what
        self._total = total
        self._per_caller = per_caller
        self._server = server
        self._lock = threading.Lock()
        self._in_use = 0
        self._by_caller: dict[str, int] = {}

    @property
    def total(self) -> int:
        """The most calls of this kind served at once."""
        return self._total

    @property
    def per_caller(self) -> int | None:
        """The most calls of this kind one caller may have at once, or ``None``."""
        return self._per_caller

    @property
    def in_use(self) -> int:
        """How many calls of this kind are being served now."""
        with self._lock:
            return self._in_use

    @contextlib.contextmanager
    def hold(self, caller: str | None = None) -> Iterator[None]:
        """Take one place for the duration of a call, or refuse the call at once.

        Parameters
        ----------
        caller
            Who calls (an authenticated name, e.g. the party of the TLS certificate);
            ``None`` when the caller is not known, which only the total limit applies to.

        Yields
        ------
        None
            Control for the call; the place is given back when the block ends.

        Raises
        ------
        ServerBusyError
            If ``total`` calls are in progress, or ``caller`` already has ``per_caller``.
        """
        with self._lock:
            mine = self._by_caller.get(caller, 0) if caller is not None else 0
            if caller is not None and self._per_caller is not None and mine >= self._per_caller:
                raise ServerBusyError(
                    f"{caller} already has {mine} {self._what} in progress at {self._server}, "
                    f"the most one caller may have at once; this one is refused",
                    hint=f"Wait for your {self._what} in progress to finish, then try again.",
                )
            if self._in_use >= self._total:
                raise ServerBusyError(
                    f"{self._server} already serves {self._in_use} {self._what}, the most it "
                    "serves at once; this one is refused"
                )
            self._in_use += 1
            if caller is not None:
                self._by_caller[caller] = mine + 1
        try:
            yield
        finally:
            with self._lock:
                self._in_use -= 1
                if caller is not None:
                    left = self._by_caller.get(caller, 1) - 1
                    if left:
                        self._by_caller[caller] = left
                    else:
                        self._by_caller.pop(caller, None)

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimit({self._what!r}, total={self._total}, per_caller={self._per_caller})"
        )


def receive_with_idle_timeout(
    requests: Iterable[_T], *, idle_timeout: float, what: str
) -> Iterator[_T]:
    """Yield the messages of a client stream, ending it when the sender pauses too long.

    gRPC's request iterator waits without limit for the next message. Here a helper thread
    reads it (at most two messages ahead) while the calling worker waits at most
    ``idle_timeout`` seconds for each; the helper ends with the call.

    Parameters
    ----------
    requests
        The request iterator gRPC hands a client-streaming servicer method.
    idle_timeout
        Seconds the stream may carry no message (the first one included).
    what
        The stream, for messages (e.g. ``"the upload of blob ab12.."``).

    Returns
    -------
    Iterator[_T]
        The messages, in order.

    Raises
    ------
    StreamIdleError
        While iterating: if no message arrives within ``idle_timeout`` seconds.
    TransportError
        While iterating: if the sender cancelled the stream or its connection broke.
    UsageError
        At once, if ``idle_timeout`` is not positive.
    """
    _check_positive(idle_timeout, "idle_timeout")
    return _receive(iter(requests), idle_timeout, what)


def _receive(requests: Iterator[_T], idle_timeout: float, what: str) -> Iterator[_T]:
    mailbox: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=_READ_AHEAD)
    done = threading.Event()

    def deliver(kind: str, value: object) -> bool:
        while not done.is_set():
            try:
                mailbox.put((kind, value), timeout=_PUT_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def pump() -> None:
        try:
            for message in requests:
                if not deliver("message", message):
                    return
        except Exception as error:  # grpc.RpcError when the sender cancels or disconnects
            deliver("error", error)
        else:
            deliver("end", None)

    reader = threading.Thread(target=pump, name="accord-stream-reader", daemon=True)
    reader.start()
    try:
        while True:
            try:
                kind, value = mailbox.get(timeout=idle_timeout)
            except queue.Empty:
                _logger.info("%s sent nothing for %g s; ending it", what, idle_timeout)
                raise StreamIdleError(
                    f"{what} sent nothing for {idle_timeout:g} s; the server ended it"
                ) from None
            if kind == "end":
                return
            if kind == "error":
                raise TransportError(
                    f"the sender of {what} cancelled it or its connection broke "
                    f"({type(value).__name__})"
                )
            yield value  # type: ignore[misc]
    finally:
        done.set()


def send_with_idle_timeout(
    responses: Iterable[_T], context: grpc.ServicerContext, *, idle_timeout: float
) -> Iterator[_T]:
    """Yield a server stream's messages, cancelling the call if the client stops reading.

    gRPC sends each message before it asks for the next; a client that reads nothing
    blocks that send, and the worker with it. A timer cancels the call when one message
    has not been taken within ``idle_timeout`` seconds.

    Parameters
    ----------
    responses
        The messages to stream.
    context
        The call's servicer context.
    idle_timeout
        Seconds one message may wait for the client.

    Returns
    -------
    Iterator[_T]
        The same messages.

    Raises
    ------
    UsageError
        At once, if ``idle_timeout`` is not positive.
    """
    _check_positive(idle_timeout, "idle_timeout")
    return _send(iter(responses), context, idle_timeout)


def _send(
    responses: Iterator[_T], context: grpc.ServicerContext, idle_timeout: float
) -> Iterator[_T]:
    for message in responses:
        timer = threading.Timer(idle_timeout, context.cancel)
        timer.daemon = True
        timer.start()
        try:
            yield message
        finally:
            timer.cancel()
