"""The two failures that only the party SDK reports, placed in Accord's error tree.

::

    AccordError
    ├── VerificationError
    │   └── SessionChangedError   a node no longer runs the session this client attested
    └── CommandFailedError        a command ended "failed" on at least one node

Everything else the SDK raises is one of :mod:`accord.errors`' classes: a proposal that was
rejected or expired is an :class:`~accord.errors.ApprovalError`, a peer that does not answer
in time a :class:`~accord.errors.TransportError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from accord.errors import AccordError, VerificationError

__all__ = ["CommandFailedError", "SessionChangedError"]


class SessionChangedError(VerificationError):
    """A node now serves another enclave session than the one this client attested.

    A restarted node has a new session with new keys and none of the data keys released to
    the old one. Nothing is sent to it until the party attests and provisions it again;
    the SDK never does that silently.

    Parameters
    ----------
    node_id
        The node whose session changed.
    message
        What was seen.
    """

    default_hint = (
        "The node restarted (or its link is being intercepted). Call client.attest() and "
        "client.provision() again (CLI: accord attest, then accord provision) before "
        "proposing or approving commands for it."
    )

    def __init__(self, node_id: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.node_id = node_id


class CommandFailedError(AccordError):
    """A command was relayed to the nodes but did not execute on every one of them.

    Parameters
    ----------
    proposal_id
        The command digest.
    message
        The summary, naming every node that failed and why.
    node_errors
        The error each failed node (by node id) reported.
    """

    default_hint = (
        "Nothing was returned for this command. Fix the cause named above (for a node that "
        "died, wait for it to restart, then attest and provision it again) and propose a new "
        "command: a failed command keeps its sequence number and cannot run again."
    )

    def __init__(
        self,
        proposal_id: str,
        message: str,
        *,
        node_errors: Mapping[str, str],
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.proposal_id = proposal_id
        self.node_errors: Mapping[str, str] = MappingProxyType(dict(node_errors))
