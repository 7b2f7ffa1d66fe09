"""The orchestrator: untrusted storage and relay between the parties and the enclave nodes.

It keeps sealed blobs and proposals (with their approvals, rejections and results) in its
data folder, and relays a command to the nodes once the agreement's rule for its operation
is met. It can delay or drop messages but not forge them: every node checks every signature
and sequence number itself. See docs/orchestrator.md.

* :func:`load_config` -- read ``orchestrator.toml``.
* :func:`start_orchestrator` -- run one in this process; :func:`serve` -- run until a signal.
* :func:`register_node` -- an operator adds a node at run time.
* :class:`ProposalBook`, :class:`ProposalStore`, :class:`BlobStore`, :class:`NodeRegistry`,
  :class:`Relay` -- the parts, for tools and tests.
"""

from accord.orchestrator.blobs import CHUNK_BYTES, BlobInfo, BlobStore, referenced_blobs
from accord.orchestrator.config import (
    NodeConfig,
    OrchestratorConfig,
    load_config,
    load_operator_certificates,
    load_party_certificates,
    parse_config,
)
from accord.orchestrator.nodes import NodeLink, NodeRegistry, SessionGoneError
from accord.orchestrator.operator import register_node
from accord.orchestrator.proposals import MAX_WAIT_SECONDS, ProposalBook
from accord.orchestrator.records import (
    FINAL_STATES,
    PROPOSAL_STATES,
    NodeRecord,
    ProposalRecord,
)
from accord.orchestrator.relay import Relay
from accord.orchestrator.server import (
    CERTIFICATE_FILE_NAME,
    KEY_FILE_NAME,
    SERVER_NAME,
    RunningOrchestrator,
    load_or_create_identity,
    serve,
    start_orchestrator,
)
from accord.orchestrator.service import OrchestratorServicer
from accord.orchestrator.store import DATABASE_FILE_NAME, ProposalStore

__all__ = [
    "CERTIFICATE_FILE_NAME",
    "CHUNK_BYTES",
    "DATABASE_FILE_NAME",
    "FINAL_STATES",
    "KEY_FILE_NAME",
    "MAX_WAIT_SECONDS",
    "PROPOSAL_STATES",
    "SERVER_NAME",
    "BlobInfo",
    "BlobStore",
    "NodeConfig",
    "NodeLink",
    "NodeRecord",
    "NodeRegistry",
    "OrchestratorConfig",
    "OrchestratorServicer",
    "ProposalBook",
    "ProposalRecord",
    "ProposalStore",
    "Relay",
    "RunningOrchestrator",
    "SessionGoneError",
    "load_config",
    "load_operator_certificates",
    "load_or_create_identity",
    "load_party_certificates",
    "parse_config",
    "referenced_blobs",
    "register_node",
    "serve",
    "start_orchestrator",
]
