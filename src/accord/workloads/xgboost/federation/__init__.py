"""XGBoost across several enclave nodes: mutual attestation, signed offers, federated TLS.

A command for several node sessions splits every sealed file's chunks over the nodes by
rank (:func:`node_share`). Its ``train`` and ``evaluate`` run XGBoost's federated
communicator across the nodes (:class:`FederatedRun`), after every node has verified every
peer's evidence against the agreement (:func:`attest_peers`) and accepted only TLS
certificates that the peers made inside their enclaves for this command and signed with
their attested session keys (:func:`verify_offer`). docs/xgboost.md, section 7, specifies
the protocol.

Node side: :func:`enable_federation` (the node server calls it), :func:`federation_response`
(the ``GetFederation`` RPC). Party side: :func:`federation_argument` builds the command
argument that places the nodes.
"""

from accord.workloads.xgboost.federation.communicator import FederatedRun
from accord.workloads.xgboost.federation.memory_files import memory_files
from accord.workloads.xgboost.federation.offers import (
    OFFER_FORMAT,
    FederationKey,
    FederationOffer,
    sign_offer,
    verify_offer,
)
from accord.workloads.xgboost.federation.peers import Peer, Watchdog, attest_peers, await_offer
from accord.workloads.xgboost.federation.plan import (
    FEDERATION_ARGUMENT,
    FederationPlan,
    PeerNode,
    federation_argument,
    node_rank,
    node_share,
)
from accord.workloads.xgboost.federation.proxy import CollectiveProxy
from accord.workloads.xgboost.federation.registry import (
    NodeFederation,
    enable_federation,
    federation_response,
)

__all__ = [
    "FEDERATION_ARGUMENT",
    "OFFER_FORMAT",
    "CollectiveProxy",
    "FederatedRun",
    "FederationKey",
    "FederationOffer",
    "FederationPlan",
    "NodeFederation",
    "Peer",
    "PeerNode",
    "Watchdog",
    "attest_peers",
    "await_offer",
    "enable_federation",
    "federation_argument",
    "federation_response",
    "memory_files",
    "node_rank",
    "node_share",
    "sign_offer",
    "verify_offer",
]
