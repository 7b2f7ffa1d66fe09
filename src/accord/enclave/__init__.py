"""The trusted enclave runtime: session keys, attested key release and the in-memory key store.

Everything in this package runs only inside the attested enclave process. An
:class:`EnclaveSession` holds the session's private keys and the data keys that parties
released to it; none of them is ever pickled, copied, logged or written to disk.
"""

from accord.enclave.keystore import SessionKeyStore
from accord.enclave.session import DEFAULT_SESSION_LIFETIME, EnclaveSession, tls_server_name

__all__ = ["DEFAULT_SESSION_LIFETIME", "EnclaveSession", "SessionKeyStore", "tls_server_name"]
