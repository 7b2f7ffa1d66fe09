"""The trusted enclave runtime: session keys, key release, consensus, audit log and execution.

Everything in this package runs only inside the attested enclave process. An
:class:`EnclaveSession` holds the session's private keys and the data keys that parties
released to it; none of them is ever pickled, copied, logged or written to disk.

The command path lives in submodules: :mod:`accord.enclave.commands` (the signed command
document), :mod:`accord.enclave.consensus` (the node's checks of approvals and sequence
numbers), :mod:`accord.enclave.executor` (operations, sealed outputs, the node's
``CommandRunner``), :mod:`accord.enclave.audit` (the signed hash-chained log) and
:mod:`accord.enclave.receipts` (signed results). docs/consensus.md describes them.
"""

from accord.enclave.keystore import SessionKeyStore
from accord.enclave.session import DEFAULT_SESSION_LIFETIME, EnclaveSession, tls_server_name

__all__ = ["DEFAULT_SESSION_LIFETIME", "EnclaveSession", "SessionKeyStore", "tls_server_name"]
