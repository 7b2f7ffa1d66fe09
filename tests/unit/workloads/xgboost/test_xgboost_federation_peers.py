"""Mutual attestation between nodes, before anything is exchanged: real nodes in this process.

A node checks each peer of a command the way a party checks a node (evidence for a fresh
nonce, verified against its own agreement, over TLS pinned to the served certificate, TLS
key bound to the evidence) and refuses a peer whose evidence fails or whose attested session
is not the one the command lists at that address. It accepts a peer's per-command
certificate only from an offer signed by that attested session, and watches its peers.
"""

import time

import pytest
from federation_nodes import (
    command,
    fake_session,
    federation_of,
    local_federation,
    node,
    signed_agreement,
)

from accord.errors import TransportError, UsageError, VerificationError
from accord.workloads.xgboost.federation import (
    FederationKey,
    FederationOffer,
    FederationPlan,
    Watchdog,
    attest_peers,
    await_offer,
    federation_argument,
    sign_offer,
)

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    return signed_agreement(tmp_path_factory.mktemp("agreements"), "federation-peers")


@pytest.fixture(scope="module")
def peer(agreement, tmp_path_factory):
    running = node(agreement, tmp_path_factory.mktemp("peer"))
    yield running
    running.stop(grace=0.1)


def _plan(agreement, me, listed_session, address, **timeouts):
    """The plan of a two-node command: this node ``me`` and a peer listed at ``address``."""
    argument = federation_argument({me: "127.0.0.1:1", listed_session: address}, **timeouts)
    shared = command(agreement, [me, listed_session], {"federation": argument})
    return FederationPlan.from_command(shared, me, "train"), shared


def _deadline(seconds=10.0):
    return time.monotonic() + seconds


def test_a_peer_of_the_agreement_is_attested_over_its_pinned_key(agreement, peer):
    federation, session = local_federation(agreement)
    plan, _ = _plan(agreement, session.session_id, peer.session_id, peer.address)
    peers = attest_peers(plan, federation, deadline=_deadline())
    try:
        (attested,) = peers.values()
        assert attested.attested.session_id == peer.session_id
        assert attested.attested.evidence.session_keys == peer.session.public_keys
        assert attested.node.rank == plan.peers[0].rank
    finally:
        for item in peers.values():
            item.close()


def test_a_peer_whose_evidence_fails_the_agreement_is_refused(agreement, tmp_path):
    stranger = signed_agreement(tmp_path, "another-collaboration")
    other = node(stranger, tmp_path / "stranger")
    try:
        federation, session = local_federation(agreement)
        plan, _ = _plan(agreement, session.session_id, other.session_id, other.address)
        with pytest.raises(
            VerificationError, match="is refused as a peer: the enclave runs agreement"
        ):
            attest_peers(plan, federation, deadline=_deadline())
    finally:
        other.stop(grace=0.1)


def test_a_peer_with_a_measurement_the_agreement_does_not_accept_is_refused(agreement, tmp_path):
    strict = signed_agreement(tmp_path, "strict", measurement="ab" * 32)
    other = node(agreement, tmp_path / "node")  # runs the same code, but the policy differs
    try:
        federation, session = local_federation(strict)
        plan, _ = _plan(strict, session.session_id, other.session_id, other.address)
        with pytest.raises(VerificationError, match="is refused as a peer"):
            attest_peers(plan, federation, deadline=_deadline())
    finally:
        other.stop(grace=0.1)


def test_a_peer_whose_session_is_not_the_one_the_command_lists_is_refused(agreement, peer):
    federation, session = local_federation(agreement)
    listed = fake_session("a session the command lists")
    plan, _ = _plan(agreement, session.session_id, listed, peer.address)
    with pytest.raises(VerificationError) as refused:
        attest_peers(plan, federation, deadline=_deadline())
    assert f"is session {peer.session_id}, not session {listed} that the command lists" in str(
        refused.value
    )


def test_a_session_that_is_not_in_the_command_cannot_be_listed(agreement, peer):
    _, session = local_federation(agreement)
    argument = federation_argument(
        {session.session_id: "127.0.0.1:1", peer.session_id: peer.address}
    )
    other = fake_session("the command's real peer")
    shared = command(agreement, [session.session_id, other], {"federation": argument})
    with pytest.raises(UsageError, match=f"names session '{peer.session_id}', which the command"):
        FederationPlan.from_command(shared, session.session_id, "train")


def test_an_unreachable_peer_fails_the_setup_at_the_deadline(agreement):
    federation, session = local_federation(agreement)
    plan, _ = _plan(agreement, session.session_id, fake_session("gone"), "127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(TransportError, match="could not be attested before the setup deadline"):
        attest_peers(plan, federation, deadline=_deadline(1.5))
    assert time.monotonic() - started < 8


def _publish(peer, shared, plan, *, signing_key=None, port=None):
    entry = federation_of(peer).begin(shared.digest)
    offer = FederationOffer(
        agreement_digest=shared.agreement_digest,
        command_digest=shared.digest,
        session_id=peer.session_id,
        rank=1 - plan.rank,
        world_size=2,
        certificate_pem=FederationKey(
            peer.session_id, now=federation_of(peer).now()
        ).certificate_pem,
        server_port=port,
    )
    entry.publish(sign_offer(offer, signing_key or peer.session.signing_key))
    return entry, offer


def test_a_peer_offer_is_taken_only_as_its_attested_session_signed_it(agreement, peer):
    federation, session = local_federation(agreement)
    plan, shared = _plan(agreement, session.session_id, peer.session_id, peer.address)
    peers = attest_peers(plan, federation, deadline=_deadline())
    (attested,) = peers.values()
    port = 4242 if attested.node.rank == 0 else None
    try:
        _, offer = _publish(peer, shared, plan, port=port)
        found = await_offer(
            attested,
            federation=federation,
            plan=plan,
            command_digest=shared.digest,
            deadline=_deadline(),
        )
        assert found == offer
        # an offer signed with any other key (the host's, say) is refused
        _publish(peer, shared, plan, signing_key=session.signing_key, port=port)
        with pytest.raises(VerificationError, match="not signed by the session's attested"):
            await_offer(
                attested,
                federation=federation,
                plan=plan,
                command_digest=shared.digest,
                deadline=_deadline(),
            )
    finally:
        attested.close()


def test_a_peer_that_failed_or_never_joins_ends_the_wait(agreement, peer):
    federation, session = local_federation(agreement)
    plan, shared = _plan(agreement, session.session_id, peer.session_id, peer.address)
    (attested,) = attest_peers(plan, federation, deadline=_deadline()).values()
    try:
        with pytest.raises(
            TransportError, match=r"did not join the command within 60 s \(its state: unknown"
        ):
            await_offer(
                attested,
                federation=federation,
                plan=plan,
                command_digest=shared.digest,
                deadline=_deadline(0.5),
            )
        federation_of(peer).begin(shared.digest).failed("its data did not load")
        with pytest.raises(TransportError, match="failed: its data did not load"):
            await_offer(
                attested,
                federation=federation,
                plan=plan,
                command_digest=shared.digest,
                deadline=_deadline(),
            )
    finally:
        attested.close()


def test_the_watchdog_reports_a_peer_that_failed_or_went_silent(agreement, tmp_path):
    other = node(agreement, tmp_path / "node")
    federation, session = local_federation(agreement)
    plan, shared = _plan(agreement, session.session_id, other.session_id, other.address)
    (attested,) = attest_peers(plan, federation, deadline=_deadline()).values()
    entry = federation_of(other).begin(shared.digest)
    entry.running()
    reasons = []
    watchdog = Watchdog(
        [attested], shared.digest, peer_timeout=1, on_failure=reasons.append, interval=0.1
    )
    watchdog.start()
    try:
        time.sleep(0.4)
        assert reasons == []
        assert watchdog.check_once(timeout=2) is None
        entry.failed("XGBoost refused to train: label must be in [0,1]")
        _wait_for(lambda: reasons)
        assert reasons == [
            f"{attested.node.describe()} failed: XGBoost refused to train: label must be in [0,1]"
        ]
    finally:
        watchdog.stop()

    reasons.clear()
    federation_of(other).begin(shared.digest).running()
    watchdog = Watchdog(
        [attested], shared.digest, peer_timeout=1, on_failure=reasons.append, interval=0.1
    )
    watchdog.start()
    other.stop(grace=0)
    started = time.monotonic()
    try:
        _wait_for(lambda: reasons, timeout=10)
        assert reasons == [f"{attested.node.describe()} stopped answering for more than 1 s"]
        assert time.monotonic() - started < 8
        assert "does not answer" in watchdog.check_once(timeout=1)
    finally:
        watchdog.stop()
        attested.close()


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
