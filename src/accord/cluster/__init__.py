"""Running a collaboration's cloud side: local processes (Ray comes later).

:class:`LocalCluster` starts an orchestrator and enclave nodes as subprocesses on this
machine, talking real gRPC over loopback: the embedded default for development, tests and
the demo.
"""

from accord.cluster.local import LocalCluster

__all__ = ["LocalCluster"]
