"""The party SDK: what a party runs on its own machine to work with enclaves.

Start with :func:`connect`, which returns a :class:`Client`; see docs/runtime.md. The
lower-level trust-root calls (:func:`new_nonce`, :func:`verify_enclave`,
:func:`release_data_key`) are what :meth:`Client.attest` and :meth:`Client.provision` use.
XGBoost with XGBoost's own names (``train``, ``predict``, a classifier with ``fit``) is
:class:`AccordXGBoost` (:mod:`accord.client.xgboost`; docs/quickstart.md).

Errors specific to the SDK::

    AccordError
    ├── VerificationError
    │   └── SessionChangedError   a node restarted: attest() and provision() again
    └── CommandFailedError        a command failed on a node (each node's error attached)
"""

from accord.client.attestation import VerifiedEnclave, new_nonce, release_data_key, verify_enclave
from accord.client.audit import NodeAudit
from accord.client.errors import CommandFailedError, SessionChangedError
from accord.client.nodes import NodeInfo, NodeStatus
from accord.client.proposals import Proposal
from accord.client.results import NodeOutcome, Result, SealedOutput
from accord.client.sdk import DEFAULT_TTL, DEFAULT_WAIT_TIMEOUT, Client, connect
from accord.client.xgboost import (
    AccordXGBClassifier,
    AccordXGBoost,
    AccordXGBRegressor,
    Dataset,
    RemoteBooster,
    RemoteDMatrix,
)

__all__ = [
    "DEFAULT_TTL",
    "DEFAULT_WAIT_TIMEOUT",
    "AccordXGBClassifier",
    "AccordXGBRegressor",
    "AccordXGBoost",
    "Client",
    "CommandFailedError",
    "Dataset",
    "NodeAudit",
    "NodeInfo",
    "NodeOutcome",
    "NodeStatus",
    "Proposal",
    "RemoteBooster",
    "RemoteDMatrix",
    "Result",
    "SealedOutput",
    "SessionChangedError",
    "VerifiedEnclave",
    "connect",
    "new_nonce",
    "release_data_key",
    "verify_enclave",
]
