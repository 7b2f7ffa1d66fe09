"""accord.client exports exactly its documented API."""

import datetime as dt
import types

import accord.client
from accord.agreement import load_signed_agreement
from accord.client.proposals import parse_proposal
from accord.enclave.commands import Command
from accord.v1 import orchestrator_pb2


def test_all_names_exist_are_documented_and_nothing_else_is_public():
    public = {
        name
        for name, value in vars(accord.client).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(accord.client.__all__)
    for name in accord.client.__all__:
        assert (getattr(accord.client, name).__doc__ or "").strip(), name


def test_a_proposal_prints_as_its_full_description(world):
    agreement = load_signed_agreement(world["agreement_path"])
    command = Command.create(
        agreement_digest=agreement.digest,
        session_ids=["aa" * 16],
        sequence=3,
        operation="echo",
        arguments={"message": "hi"},
        recipients=["bob"],
        proposer="alice",
        ttl=dt.timedelta(minutes=1),
    )
    view = orchestrator_pb2.ProposalView(
        proposal_id=command.digest, command=command.to_bytes(), state="pending"
    )
    proposal = parse_proposal(view, agreement=agreement)
    assert str(proposal) == proposal.describe()
    assert str(proposal).endswith(command.describe())  # the command comes last
