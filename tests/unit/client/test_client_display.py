"""An orchestrator cannot change what a party sees before it signs.

The orchestrator supplies a proposal's state, error and rejections; a proposer supplies the
command's arguments. Terminal control sequences in any of them must reach the screen as
visible escapes, an unknown state is refused, and the command is printed last.
"""

import datetime as dt

import pytest

from accord.agreement import load_signed_agreement
from accord.client.nodes import NodeInfo
from accord.client.proposals import (
    COMMAND_SEPARATOR,
    MAX_CLAIM_CHARS,
    PROPOSAL_STATES,
    parse_proposal,
)
from accord.enclave.commands import Command, sign_command
from accord.errors import VerificationError
from accord.v1 import common_pb2, orchestrator_pb2

SESSIONS = ["11" * 16, "22" * 16]
ESC = "\x1b"
# Move the cursor up three lines, to the start of the line, and clear it.
CURSOR_UP = f"{ESC}[3A{ESC}[1G{ESC}[2K"
CONTROLS = (ESC, "\r", "\x08", "\u202e", "\u200b", "\x9b")


@pytest.fixture(scope="module")
def agreement(world):
    return load_signed_agreement(world["agreement_path"])


def make_command(agreement, **changes):
    fields = {
        "agreement_digest": agreement.digest,
        "session_ids": SESSIONS,
        "sequence": 1,
        "operation": "echo",
        "arguments": {"message": "REAL: send to bob too"},
        "recipients": ["alice", "bob"],
        "proposer": "bob",
        "ttl": dt.timedelta(minutes=5),
    }
    fields.update(changes)
    return Command.create(**fields)


def evil_view(command, *, state="pending", error="", rejections=(), approvals=()):
    return orchestrator_pb2.ProposalView(
        proposal_id=command.digest,
        command=command.to_bytes(),
        approvals=[common_pb2.Approval(party=p, signature=s) for p, s in approvals],
        state=state,
        error=error,
        rejections=[orchestrator_pb2.Rejection(party=p, reason=r) for p, r in rejections],
    )


def assert_no_controls(text):
    for character in CONTROLS:
        assert character not in text, repr(character)


def test_control_sequences_in_the_orchestrators_texts_are_escaped(agreement, world):
    command = make_command(agreement)
    bob_signature = sign_command(command, world["parties"]["bob"].signing_key)
    forged_error = f"x{CURSOR_UP}  recipients:  alice{CURSOR_UP}\r  error:       (none)"
    proposal = parse_proposal(
        evil_view(
            command,
            error=forged_error,
            rejections=[(f"alice{ESC}[2K", f"no{ESC}]52;c;ZXZpbA=={ESC}\\ \u202edaer")],
            approvals=[("bob", bob_signature)],
        ),
        agreement=agreement,
    )
    shown = proposal.describe()
    assert_no_controls(shown)
    assert_no_controls(proposal.error)
    assert_no_controls("".join(party + reason for party, reason in proposal.rejections))
    assert "\\x1b[3A" in proposal.error  # visible, not interpreted
    assert "recipients:  alice, bob" in shown
    assert '"message": "REAL: send to bob too"' in shown


def test_the_command_is_printed_last_from_the_verified_command_only(agreement, world):
    command = make_command(agreement)
    proposal = parse_proposal(
        evil_view(command, error=f"after{CURSOR_UP}", rejections=[("alice", "no")]),
        agreement=agreement,
    )
    shown = proposal.describe()
    status, separator, rest = shown.partition(COMMAND_SEPARATOR)
    assert separator and shown.count(COMMAND_SEPARATOR) == 1
    assert rest == "\n" + command.describe()
    assert "error:" in status and "rejected by: alice" in status
    assert "(as the orchestrator reports it)" in status


@pytest.mark.parametrize("state", [f"pending{CURSOR_UP}", "approved", "", "PENDING", "done\n"])
def test_a_state_that_is_not_a_proposal_state_is_refused(agreement, state):
    command = make_command(agreement)
    with pytest.raises(VerificationError, match="which is not a proposal state") as caught:
        parse_proposal(evil_view(command, state=state), agreement=agreement)
    assert_no_controls(caught.value.message)
    assert all(name in caught.value.message for name in PROPOSAL_STATES)


def test_long_orchestrator_texts_are_cut(agreement):
    command = make_command(agreement)
    proposal = parse_proposal(evil_view(command, error="e" * 100_000), agreement=agreement)
    assert len(proposal.error) < MAX_CLAIM_CHARS + 100
    assert proposal.error.endswith(f"({100_000 - MAX_CLAIM_CHARS} more characters)")


def test_the_proposers_argument_strings_cannot_disguise_the_command(agreement):
    disguise = f"hello alice{CURSOR_UP}  recipients:  alice\r\u202e\u200b\x9b2A"
    command = make_command(agreement, arguments={"message": disguise, f"k{ESC}[2K": "v"})
    shown = command.describe()
    assert_no_controls(shown)
    assert "\\u001b[3A" in shown  # the escape sequence is shown, not run
    assert "recipients:  alice, bob" in shown


@pytest.mark.parametrize(
    ("node_id", "address"),
    [
        (f"node-1{ESC}[2K", "127.0.0.1:5001"),
        ("Node One", "127.0.0.1:5001"),
        ("node-1", f"127.0.0.1{ESC}[2A:5001"),
        ("node-1", "no-port"),
    ],
)
def test_a_node_listing_with_a_malformed_id_or_address_is_refused(node_id, address):
    message = orchestrator_pb2.NodeInfo(node_id=node_id, address=address, state="ready")
    with pytest.raises(VerificationError, match="the orchestrator lists") as caught:
        NodeInfo.from_message(message)
    assert_no_controls(caught.value.message)


def test_a_node_listings_state_and_session_are_escaped():
    message = orchestrator_pb2.NodeInfo(
        node_id="node-1", address="127.0.0.1:5001", state=f"ready{CURSOR_UP}", session_id=ESC
    )
    node = NodeInfo.from_message(message)
    assert_no_controls(node.state + node.session_id)
