"""Training progress over the node protocol, federation states, and joining prediction shares."""

import math

import numpy as np
import pytest
from federation_nodes import federation_of, node, signed_agreement

from accord.client.nodes import attest_node
from accord.errors import UsageError, VerificationError
from accord.transport import call
from accord.v1 import node_pb2
from accord.workloads.xgboost import (
    PROGRESS_FORMAT,
    TrainingRound,
    XGBoostState,
    decode_progress,
    encode_predictions,
    join_predictions,
    progress_document,
    xgboost_state,
)

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    return signed_agreement(tmp_path_factory.mktemp("agreements"), "progress")


@pytest.fixture(scope="module")
def running(agreement, tmp_path_factory):
    started = node(agreement, tmp_path_factory.mktemp("node"))
    yield started
    started.stop(grace=0.1)


@pytest.fixture(scope="module")
def attested(agreement, running):
    found = attest_node("n1", running.address, agreement=agreement, timeout=10)
    yield found
    found.close()


def _record(state, model, rounds, total=None):
    for index in range(rounds):
        metrics = {"test-auc": 0.5 + index / 100, "test-logloss": math.nan if index == 0 else 0.3}
        state.record_round(TrainingRound(model, index, total or rounds, metrics))


def test_progress_is_served_round_by_round_from_a_start_round(running, attested):
    state = xgboost_state(running.servicer.runner.executor.workspace)
    _record(state, "m", 5)
    _record(state, "other", 2)
    answer = call(
        attested.stub.GetProgress,
        node_pb2.ProgressRequest(model="m", start_round=3),
        peer="n1",
        timeout=10,
    )
    rounds = decode_progress(answer.rounds)
    assert [r.round for r in rounds] == [3, 4]
    assert rounds[0] == TrainingRound("m", 3, 5, {"test-auc": 0.53, "test-logloss": 0.3})
    first = decode_progress(
        call(
            attested.stub.GetProgress, node_pb2.ProgressRequest(model="m"), peer="n1", timeout=10
        ).rounds
    )[0]
    assert math.isnan(first.metrics["test-logloss"])  # not finite on the node: null on the wire
    unknown = call(
        attested.stub.GetProgress, node_pb2.ProgressRequest(model="nope"), peer="n1", timeout=10
    )
    assert decode_progress(unknown.rounds) == ()


def test_a_progress_request_for_a_malformed_model_name_is_refused(attested):
    with pytest.raises(UsageError, match="is not a model name"):
        call(
            attested.stub.GetProgress,
            node_pb2.ProgressRequest(model="../etc"),
            peer="n1",
            timeout=10,
        )


def test_a_new_training_under_a_name_drops_the_rounds_of_an_earlier_attempt():
    state = XGBoostState(nthread=1)
    _record(state, "m", 4)
    state.forget_progress("m")
    _record(state, "m", 2, total=9)
    assert [(r.round, r.total) for r in state.progress("m")] == [(0, 9), (1, 9)]


def test_progress_documents_are_canonical_and_read_strictly():
    state = XGBoostState(nthread=1)
    _record(state, "m", 2)
    document = progress_document(state, "m", 0)
    assert document.startswith(b'{"format":"' + PROGRESS_FORMAT.encode())
    assert len(decode_progress(document)) == 2
    assert decode_progress(progress_document(None, "m", 0)) == ()
    for bad in (
        b'{"format":"other","model":"m","rounds":[]}',
        b'{"format":"accord-xgboost-progress/v1","model":"m","rounds":[{"model":"x",'
        b'"round":0,"total":1,"metrics":{}}]}',
        b'{"format":"accord-xgboost-progress/v1","model":"m","rounds":[{"model":"m",'
        b'"round":0,"total":1,"metrics":{"a":"high"}}]}',
        b'{"format":"accord-xgboost-progress/v1","model":"m"}',
    ):
        with pytest.raises(VerificationError):
            decode_progress(bad)


def test_the_federation_state_of_a_command_is_served_to_peers(running, attested):
    digest = "ab" * 32
    request = node_pb2.FederationRequest(command_digest=digest)
    before = call(attested.stub.GetFederation, request, peer="n1", timeout=10)
    assert (before.state, before.offer, before.error) == ("unknown", b"", "")
    entry = federation_of(running).begin(digest)
    entry.publish(b"{}")
    entry.running()
    assert call(attested.stub.GetFederation, request, peer="n1", timeout=10).state == "running"
    entry.failed("a peer went away")
    entry.finished()  # a failure is final
    answer = call(attested.stub.GetFederation, request, peer="n1", timeout=10)
    assert (answer.state, answer.error, answer.offer) == ("failed", "a peer went away", b"{}")
    with pytest.raises(UsageError, match="names a command by its digest"):
        call(
            attested.stub.GetFederation,
            node_pb2.FederationRequest(command_digest="../x"),
            peer="n1",
            timeout=10,
        )


def test_prediction_shares_join_in_session_order():
    shares = {
        "bb" * 16: encode_predictions(np.array([3.0, 4.0], np.float32)),
        "aa" * 16: encode_predictions(np.array([1.0, 2.0], np.float32)),
        "cc" * 16: encode_predictions(np.zeros(0, np.float32)),  # a node with no rows
    }
    np.testing.assert_array_equal(join_predictions(shares), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(UsageError, match="different shapes"):
        join_predictions({**shares, "dd" * 16: encode_predictions(np.zeros((1, 2), np.float32))})
    with pytest.raises(UsageError, match="no predictions to join"):
        join_predictions({})
    with pytest.raises(UsageError, match="not predictions"):
        join_predictions({"aa" * 16: b"pickle"})
