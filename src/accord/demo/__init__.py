"""The seed scenario of Accord, run end to end on one host by ``accord demo``.

Parties, an orchestrator and enclave nodes as real processes (simulated attestation), a
joint XGBoost model trained on approved commands, predictions sealed to each party. The demo
data (``data/agaricus``, the UCI mushroom set) ships inside the package so the demo works
offline from a fresh clone or an installed release; :func:`demo_data_path` finds a file.
"""

from accord.demo.scenario import DemoOptions, DemoResult, demo_data_path, run_demo

__all__ = ["DemoOptions", "DemoResult", "demo_data_path", "run_demo"]
