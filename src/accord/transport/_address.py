"""Parsing ``host:port`` addresses, shared by the TLS and channel helpers."""

from __future__ import annotations

from accord.errors import UsageError

__all__ = ["split_address"]


def split_address(address: str) -> tuple[str, int]:
    """Split ``host:port`` (or ``[ipv6]:port``) into host and port.

    Parameters
    ----------
    address
        The address, for example ``127.0.0.1:5001``, ``node.example:443`` or ``[::1]:5001``.

    Returns
    -------
    tuple[str, int]
        The host (without brackets) and the port (0 to 65535).

    Raises
    ------
    UsageError
        If the address has no port, an empty host or a port out of range.
    """
    host, separator, port_text = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not separator or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(
            f"the address {address!r} is not of the form HOST:PORT",
            hint="Write addresses as HOST:PORT, for example 127.0.0.1:5001 or [::1]:5001.",
        )
    return host, int(port_text)
