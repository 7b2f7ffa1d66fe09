"""What an orchestrator's operator does over the wire: add enclave nodes at run time.

Nodes are normally listed in the orchestrator's configuration. A tool that starts nodes
later (a scale-out on a cluster) adds them with :func:`register_node`, connecting with an
*operator* TLS identity: a key and self-signed certificate whose certificate is listed in
the orchestrator's ``operator_certificates`` (see docs/orchestrator.md). Parties cannot
register nodes unless their own certificate is listed there too.
"""

from __future__ import annotations

from accord.transport import DEFAULT_CALL_TIMEOUT, TlsIdentity, call, pinned_channel
from accord.v1 import orchestrator_pb2, orchestrator_pb2_grpc

__all__ = ["register_node"]


def register_node(
    orchestrator: str,
    *,
    orchestrator_certificate: bytes,
    operator: TlsIdentity,
    node_id: str,
    address: str,
    timeout: float = DEFAULT_CALL_TIMEOUT,
) -> orchestrator_pb2.NodeInfo:
    """Ask the orchestrator to add (or move) the node ``node_id`` at ``address``.

    The orchestrator attests the node before it answers; the answer's ``state`` says how
    that went (``ready``, ``unreachable`` or ``untrusted``).

    Parameters
    ----------
    orchestrator
        ``host:port`` of the orchestrator.
    orchestrator_certificate
        The orchestrator's certificate (PEM), pinned.
    operator
        The operator's TLS identity, whose certificate the orchestrator lists in
        ``operator_certificates``.
    node_id
        The node's name (lower-case letters, digits, ``_.-``; at most 63 characters).
    address
        ``host:port`` of the node's TLS endpoint.
    timeout
        Seconds the call may take (the orchestrator attests the node meanwhile).

    Returns
    -------
    orchestrator_pb2.NodeInfo
        The node as the orchestrator now lists it.

    Raises
    ------
    VerificationError
        If the operator's certificate is not one the orchestrator lists.
    UsageError
        If the id or address is malformed, or the orchestrator holds its most nodes.
    TransportError
        If the orchestrator cannot be reached in time, or refuses the TLS handshake.
    """
    with pinned_channel(orchestrator, orchestrator_certificate, client=operator) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)  # type: ignore[no-untyped-call]
        answer: orchestrator_pb2.NodeInfo = call(
            stub.RegisterNode,
            orchestrator_pb2.RegisterNodeRequest(node_id=node_id, address=address),
            peer=f"orchestrator {orchestrator}",
            timeout=timeout,
        )
    return answer
