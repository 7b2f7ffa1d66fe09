"""Workloads that run inside the enclave nodes, as operations of approved commands.

Each workload is a subpackage that provides operation handlers for
:class:`accord.enclave.executor.Executor` and keeps its state in the executor's
:class:`~accord.enclave.executor.Workspace` (enclave memory, one per session):

* :mod:`accord.workloads.xgboost`: load sealed datasets of several parties, train, predict,
  evaluate, feature importance, save, load and release models (docs/xgboost.md).
"""

__all__: list[str] = []
