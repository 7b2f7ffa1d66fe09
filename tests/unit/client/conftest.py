import pytest
from client_helpers import InProcessRuntime, make_parties, write_agreement

from accord.agreement import load_signed_agreement
from accord.client import connect

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """alice and bob in a signed agreement; mallory, a stranger with a valid identity."""
    root = tmp_path_factory.mktemp("world")
    parties = make_parties(root, ["alice", "bob", "mallory"])
    path = write_agreement(root / "agreement.toml", [parties["alice"], parties["bob"]])
    return {"root": root, "parties": parties, "agreement_path": path}


@pytest.fixture(scope="module")
def runtime(world):
    agreement = load_signed_agreement(world["agreement_path"])
    parties = [world["parties"]["alice"], world["parties"]["bob"]]
    running = InProcessRuntime(
        world["root"] / "runtime",
        agreement,
        world["agreement_path"],
        parties,
        node_refresh_seconds=0.5,
        sweep_interval_seconds=0.2,
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def open_client(world, runtime):
    """Connect a party (by name) to the in-process runtime; closed at the end of the module."""
    opened = []

    def open_(name, **options):
        client = connect(
            runtime.address,
            world["agreement_path"],
            world["parties"][name],
            orchestrator_certificate=runtime.certificate,
            timeout=10,
            **options,
        )
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.close()


@pytest.fixture(scope="module")
def alice(open_client):
    client = open_client("alice")
    client.attest()
    client.provision()
    return client


@pytest.fixture(scope="module")
def bob(open_client):
    client = open_client("bob")
    client.attest()
    client.provision()
    return client
