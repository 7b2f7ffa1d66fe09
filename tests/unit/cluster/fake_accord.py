"""A stand-in for the ``accord`` console script, for testing process management.

``node`` and ``orchestrator`` print their ready lines (the orchestrator only after checking
the configuration it was given with the real parser); FAKE_ACCORD_MODE changes that:
``die`` exits at once with a message on stderr, ``silent`` never gets ready, ``stubborn``
ignores SIGTERM.
"""

import os
import signal
import sys
import time
from pathlib import Path

mode = os.environ.get("FAKE_ACCORD_MODE", "")
role = sys.argv[1]
arguments = dict(zip(sys.argv[2::2], sys.argv[3::2], strict=False))
if mode == "die":
    print(f"{role}: cannot start: the agreement is not signed", file=sys.stderr)
    sys.exit(3)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode != "silent":
    if role == "node":
        port = arguments["--listen"].rsplit(":", 1)[1]
        if port == "0":
            port = str(20000 + os.getpid() % 20000)
        print("starting", flush=True)
        print(f"node ready session={os.urandom(16).hex()} address=127.0.0.1:{port}", flush=True)
    else:
        from accord.orchestrator.config import load_config

        config = load_config(Path(arguments["--config"]))
        nodes = ",".join(f"{n.node_id}={n.address}" for n in config.nodes)
        print(f"configured nodes {nodes}", file=sys.stderr, flush=True)
        print("orchestrator ready address=127.0.0.1:7777", flush=True)
while True:
    time.sleep(0.05)
