"""Running a collaboration's cloud side: local processes, or actors on a Ray cluster.

:class:`LocalCluster` starts an orchestrator and enclave nodes as subprocesses on this
machine, talking real gRPC over loopback: the embedded default for development, tests and
the demo. :mod:`accord.cluster.ray` (optional extra ``accord[ray]``) places enclave nodes as
actors on an existing Ray cluster, which only ever sees public data (docs/deploy.md).
"""

from accord.cluster.local import LocalCluster

__all__ = ["LocalCluster"]
