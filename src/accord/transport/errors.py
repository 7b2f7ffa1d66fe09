"""Accord errors across gRPC: servers signal them, clients raise them again.

Wire convention
---------------
A servicer that fails with an :class:`~accord.errors.AccordError` ends the call with
:func:`abort_with`: a status code chosen by the error's class and three trailing metadata
entries. Values are UTF-8, percent-encoded (RFC 3986) so that they are legal header values;
each is at most 2,048 encoded characters (longer text is cut and ends with ``...``).

=======================  ===============================================================
key                      value
=======================  ===============================================================
``accord-error-class``   the error's class name: the nearest of ``UsageError``,
                         ``ConfigurationError``, ``IntegrityError``, ``KeyMaterialError``,
                         ``VerificationError``, ``ApprovalError``, ``TransportError``,
                         ``AccordError`` among its classes
``accord-error-message`` the message
``accord-error-hint``    the hint (what the user can do)
=======================  ===============================================================

=====================================  ====================
error class                            status code
=====================================  ====================
ServerBusyError (a TransportError)     RESOURCE_EXHAUSTED
StreamIdleError (a TransportError)     DEADLINE_EXCEEDED
UsageError, ConfigurationError         INVALID_ARGUMENT
VerificationError, ApprovalError       PERMISSION_DENIED
KeyMaterialError                       FAILED_PRECONDITION
IntegrityError                         DATA_LOSS
TransportError                         UNAVAILABLE
AccordError (anything else)            UNKNOWN
=====================================  ====================

A client (:func:`call`, :func:`call_stream`, :func:`translate_rpc_errors`) rebuilds the class
named in the metadata, looked up in that fixed list (never imported by name), with the
server's message and hint; a ``TransportError`` with status ``RESOURCE_EXHAUSTED`` or
``DEADLINE_EXCEEDED`` becomes the :class:`~accord.transport.ServerBusyError` or
:class:`~accord.transport.StreamIdleError` it was (both kinds of ``TransportError``). The
message is the peer's own words: an untrusted peer can choose it, so never act on its
content. A failure without the metadata becomes a
:class:`~accord.errors.TransportError` naming the peer, for example
"node 127.0.0.1:5001 did not answer within 30 s".
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NoReturn, TypeVar, cast
from urllib.parse import quote, unquote

import grpc

from accord.errors import (
    AccordError,
    ApprovalError,
    ConfigurationError,
    IntegrityError,
    KeyMaterialError,
    TransportError,
    UsageError,
    VerificationError,
)
from accord.transport.limits import ServerBusyError, StreamIdleError

__all__ = [
    "ERROR_CLASS_KEY",
    "ERROR_HINT_KEY",
    "ERROR_MESSAGE_KEY",
    "abort_on_accord_error",
    "abort_with",
    "call",
    "call_stream",
    "error_from_rpc",
    "status_code_for",
    "translate_rpc_errors",
]

ERROR_CLASS_KEY: Final = "accord-error-class"
"""Trailing metadata key: the Accord error class name."""

ERROR_MESSAGE_KEY: Final = "accord-error-message"
"""Trailing metadata key: the error message, percent-encoded UTF-8."""

ERROR_HINT_KEY: Final = "accord-error-hint"
"""Trailing metadata key: the error hint, percent-encoded UTF-8."""

_MAX_ENCODED_CHARS: Final = 2048
_MAX_DETAILS_CHARS: Final = 1024
_SAFE_CHARACTERS: Final = " !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~"

_ERROR_CLASSES: Final[Mapping[str, type[AccordError]]] = {
    cls.__name__: cls
    for cls in (
        AccordError,
        UsageError,
        ConfigurationError,
        IntegrityError,
        KeyMaterialError,
        VerificationError,
        ApprovalError,
        TransportError,
    )
}

_STATUS_CODES: Final[Sequence[tuple[type[AccordError], grpc.StatusCode]]] = (
    (ServerBusyError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StreamIdleError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (UsageError, grpc.StatusCode.INVALID_ARGUMENT),
    (VerificationError, grpc.StatusCode.PERMISSION_DENIED),
    (ApprovalError, grpc.StatusCode.PERMISSION_DENIED),
    (KeyMaterialError, grpc.StatusCode.FAILED_PRECONDITION),
    (IntegrityError, grpc.StatusCode.DATA_LOSS),
    (TransportError, grpc.StatusCode.UNAVAILABLE),
)

_CLOSED_WORDS: Final = ("socket closed", "endpoint closing", "connection reset", "broken pipe")
_REFUSED_WORDS: Final = ("connection refused", "connect failed")
_TLS_WORDS: Final = ("ssl", "tls", "handshake", "certificate")

_logger = logging.getLogger("accord.transport")

ResponseT = TypeVar("ResponseT")
MethodT = TypeVar("MethodT", bound=Callable[..., Any])


def status_code_for(error: AccordError) -> grpc.StatusCode:
    """Return the gRPC status code that signals ``error`` (see the module's table)."""
    for cls, code in _STATUS_CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.UNKNOWN


def _wire_class_name(error: AccordError) -> str:
    for cls in type(error).__mro__:
        if _ERROR_CLASSES.get(cls.__name__) is cls:
            return cls.__name__
    return AccordError.__name__


def _encode(text: str) -> str:
    encoded = quote(text, safe=_SAFE_CHARACTERS)
    if len(encoded) <= _MAX_ENCODED_CHARS:
        return encoded
    pieces: list[str] = []
    length = 0
    for character in text:
        piece = quote(character, safe=_SAFE_CHARACTERS)
        if length + len(piece) > _MAX_ENCODED_CHARS - 3:
            break
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces) + "..."


def abort_with(context: grpc.ServicerContext, error: AccordError) -> NoReturn:
    """End the current call with ``error``, for the client to raise again.

    Sets the trailing metadata of the module's wire convention and aborts with the status
    code from :func:`status_code_for` and the message as status details.

    Parameters
    ----------
    context
        The servicer context of the call.
    error
        The Accord error to signal. Its message must hold nothing secret (Accord's never do).

    Raises
    ------
    Exception
        gRPC's abort exception, which ends the call; this function never returns.
    """
    code = status_code_for(error)
    _logger.info("call failed with %s: %s", type(error).__name__, error.message)
    context.set_trailing_metadata(
        (
            (ERROR_CLASS_KEY, _wire_class_name(error)),
            (ERROR_MESSAGE_KEY, _encode(error.message)),
            (ERROR_HINT_KEY, _encode(error.hint)),
        )
    )
    context.abort(code, error.message[:_MAX_DETAILS_CHARS])
    raise AssertionError("grpc.ServicerContext.abort returned")  # pragma: no cover


def abort_on_accord_error(method: MethodT) -> MethodT:
    """Decorate a servicer method so that an :class:`AccordError` it raises ends the call.

    The call ends through :func:`abort_with`. Works for methods returning a response and for
    generator methods streaming responses. The servicer context must be the last positional
    argument (gRPC's ``method(self, request, context)``).

    Parameters
    ----------
    method
        The servicer method.

    Returns
    -------
    MethodT
        The wrapped method.
    """
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def streaming(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(*args, **kwargs)
            except AccordError as error:
                abort_with(args[-1], error)

        return cast(MethodT, streaming)

    @functools.wraps(method)
    def unary(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except AccordError as error:
            abort_with(args[-1], error)

    return cast(MethodT, unary)


def _metadata(error: grpc.RpcError) -> dict[str, str]:
    trailing = getattr(error, "trailing_metadata", None)
    entries = trailing() if callable(trailing) else None
    found: dict[str, str] = {}
    for key, value in entries or ():
        if isinstance(value, str) and key not in found:
            found[key] = value
    return found


def _unavailable(peer: str, details: str) -> TransportError:
    lowered = details.lower()
    if any(word in lowered for word in _CLOSED_WORDS):
        return TransportError(
            f"{peer} closed the connection during setup (a server requiring mutual TLS does "
            f"this when it does not accept the client certificate): {details}",
            hint=(
                "A server that requires mutual TLS (the orchestrator) does this when it does "
                "not accept the client's certificate: check that the party's TLS certificate "
                "is the one the agreement lists and that the server trusts it."
            ),
        )
    if "certificate_verify_failed" in lowered:
        return TransportError(
            f"TLS handshake with {peer} failed: its certificate is not the pinned one ({details})",
            hint=(
                "Do not trust this peer. For an enclave node, attest it again (a restarted "
                "node has a new certificate); otherwise check the pinned certificate file."
            ),
        )
    if any(word in lowered for word in _TLS_WORDS):
        return TransportError(
            f"TLS handshake with {peer} failed: {details}",
            hint="Check the certificate files on both sides; for an enclave node, attest it again.",
        )
    if any(word in lowered for word in _REFUSED_WORDS):
        return TransportError(
            f"{peer} refused the connection: {details}",
            hint="Check that the peer is running and listening on that address.",
        )
    return TransportError(f"{peer} is not reachable: {details}")


def _describe_timeout(timeout: float | None) -> str:
    return "before its deadline" if timeout is None else f"within {timeout:g} s"


def error_from_rpc(error: grpc.RpcError, *, peer: str, timeout: float | None = None) -> AccordError:
    """Turn a failed gRPC call into the Accord error to raise.

    Parameters
    ----------
    error
        What the gRPC stub raised.
    peer
        Who was called, with its address, for example ``"node 127.0.0.1:5001"``.
    timeout
        The call's deadline in seconds, named in timeout errors.

    Returns
    -------
    AccordError
        The error class and message the server signalled, or a :class:`TransportError`
        that names ``peer``, the status and (for deadlines) ``timeout``.
    """
    metadata = _metadata(error)
    code_method = getattr(error, "code", None)
    code = code_method() if callable(code_method) else None
    details_method = getattr(error, "details", None)
    details = (details_method() if callable(details_method) else None) or ""
    cls = _ERROR_CLASSES.get(metadata.get(ERROR_CLASS_KEY, ""))
    if cls is TransportError and code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        cls = ServerBusyError
    elif cls is TransportError and code == grpc.StatusCode.DEADLINE_EXCEEDED:
        cls = StreamIdleError
    if cls is not None:
        message = unquote(metadata.get(ERROR_MESSAGE_KEY, "")) or details
        hint = metadata.get(ERROR_HINT_KEY)
        return cls(message, hint=unquote(hint) if hint is not None else None)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return TransportError(f"{peer} did not answer {_describe_timeout(timeout)}")
    if code == grpc.StatusCode.UNAVAILABLE:
        return _unavailable(peer, details)
    if code == grpc.StatusCode.CANCELLED:
        return TransportError(f"the call to {peer} was cancelled: {details}")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return TransportError(
            f"{peer} does not offer this call: {details}",
            hint="Check that the peer runs a compatible version of Accord.",
        )
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "concurrent rpc" in details.lower():
        return TransportError(
            f"{peer} is busy: it serves as many calls as it accepts at once ({details})",
            hint="Try again shortly.",
        )
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return TransportError(
            f"{peer} failed the call with RESOURCE_EXHAUSTED: {details}",
            hint="Messages are limited to 8 MiB each; stream larger data in chunks.",
        )
    name = code.name if isinstance(code, grpc.StatusCode) else "an unknown status"
    return TransportError(f"{peer} failed the call with {name}: {details}")


@contextlib.contextmanager
def translate_rpc_errors(*, peer: str, timeout: float | None = None) -> Iterator[None]:
    """Raise Accord errors instead of :class:`grpc.RpcError` inside a block (or function).

    Usable as ``with translate_rpc_errors(peer=...):`` and as a decorator.

    Parameters
    ----------
    peer
        Who is called, with its address, for example ``"orchestrator 10.0.0.5:7000"``.
    timeout
        The deadline the calls in the block use, named in timeout errors.

    Yields
    ------
    None
        Control for the block.

    Raises
    ------
    AccordError
        The error from :func:`error_from_rpc` for any :class:`grpc.RpcError` in the block.
    """
    try:
        yield
    except grpc.RpcError as exc:
        raise error_from_rpc(exc, peer=peer, timeout=timeout) from exc


def _check_timeout(timeout: float) -> None:
    if not (timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"a call timeout must be a positive number of seconds, got {timeout}")


def call(
    method: Callable[..., ResponseT],
    request: object,
    *,
    peer: str,
    timeout: float,
    metadata: Sequence[tuple[str, str | bytes]] | None = None,
) -> ResponseT:
    """Make one gRPC call with a deadline, raising Accord errors.

    Parameters
    ----------
    method
        A stub method taking a request (or an iterator of requests, for client streaming),
        for example ``stub.Execute``.
    request
        The request message, or an iterator of them.
    peer
        Who is called, with its address, for example ``"node 127.0.0.1:5001"``.
    timeout
        Seconds the call may take (:data:`accord.transport.DEFAULT_CALL_TIMEOUT` is the
        usual choice); there is no unbounded call.
    metadata
        Extra request metadata.

    Returns
    -------
    ResponseT
        The response.

    Raises
    ------
    UsageError
        If ``timeout`` is not a positive finite number.
    AccordError
        The class the server signalled, or :class:`TransportError` (see
        :func:`error_from_rpc`).
    """
    _check_timeout(timeout)
    with translate_rpc_errors(peer=peer, timeout=timeout):
        return method(request, timeout=timeout, metadata=metadata)


def call_stream(
    method: Callable[..., Iterable[ResponseT]],
    request: object,
    *,
    peer: str,
    timeout: float,
    metadata: Sequence[tuple[str, str | bytes]] | None = None,
) -> Iterator[ResponseT]:
    """Make a server-streaming gRPC call with a deadline for the whole stream.

    Parameters
    ----------
    method
        A server-streaming stub method, for example ``stub.DownloadBlob``.
    request
        The request message.
    peer
        Who is called, with its address.
    timeout
        Seconds the whole stream may take.
    metadata
        Extra request metadata.

    Returns
    -------
    Iterator[ResponseT]
        The streamed responses.

    Raises
    ------
    UsageError
        If ``timeout`` is not a positive finite number (raised at once).
    AccordError
        While iterating: the class the server signalled, or :class:`TransportError`.
    """
    _check_timeout(timeout)

    def responses() -> Iterator[ResponseT]:
        with translate_rpc_errors(peer=peer, timeout=timeout):
            yield from method(request, timeout=timeout, metadata=metadata)

    return responses()
