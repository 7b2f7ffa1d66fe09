"""The seed scenario of Accord, run end to end on one host by ``accord demo``.

The demo data (``data/agaricus``) ships inside the package so the demo works offline from a
fresh clone or an installed release.
"""

from accord.demo.scenario import DemoOptions, DemoResult, run_demo

__all__ = ["DemoOptions", "DemoResult", "run_demo"]
