"""One local cluster (orchestrator + two nodes as real processes) per test module."""

import pytest
from runtime_helpers import make_world

from accord.agreement import load_signed_agreement
from accord.cluster import LocalCluster

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")

CLUSTER_OPTIONS = {
    "nodes": 2,
    "execute_timeout_seconds": 3,
    "node_refresh_seconds": 1,
    "sweep_interval_seconds": 0.5,
    "stop_grace": 3,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def agreement(world):
    return load_signed_agreement(world["agreement_path"])


@pytest.fixture(scope="module")
def cluster(world, tmp_path_factory):
    with LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        world["agreement_path"],
        world["certificates"],
        **CLUSTER_OPTIONS,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def alice(world, cluster):
    with cluster.connect(world["parties"]["alice"], timeout=10) as client:
        client.attest()
        client.provision()
        yield client


@pytest.fixture(scope="module")
def bob(world, cluster):
    with cluster.connect(world["parties"]["bob"], timeout=10) as client:
        client.attest()
        client.provision()
        yield client
