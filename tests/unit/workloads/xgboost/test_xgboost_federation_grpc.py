"""XGBoost's federated gRPC with keys that never touch a disk, and the proxy's kill switch.

Each case runs in a fresh interpreter (XGBoost's communicator is global to a process):
XGBoost's secure federated server and client read their TLS keys and certificates from
anonymous memory files (``/proc/self/fd/<n>`` of a memfd), closed right after XGBoost read
them; the worker trains through the collective proxy over mutual TLS and gets plain
XGBoost's model. When a peer never joins, XGBoost alone would wait forever; tripping the
proxy ends the training at once, and the process leaves the communicator cleanly.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("federated_xgboost_script.py")


def _run(mode):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_xgboost_federated_grpc_reads_keys_from_anonymous_memory_files():
    observed = _run("train")
    assert observed["memfd"] is True  # /proc/self/fd/<n> -> /memfd:accord-... (no file system)
    assert observed["closed"] is True  # gone once the server read them
    assert observed["distributed"] is True
    assert observed["trained"] is True and observed["same_model"] is True
    assert observed["after"] is False


@pytest.mark.slow
def test_tripping_the_proxy_ends_a_collective_that_would_wait_forever():
    observed = _run("trip")
    assert observed["distributed"] is True
    assert observed["trained"] is False
    assert observed["reason_in_error"] is True  # XGBoost's error carries the proxy's reason
    assert 0.9 <= observed["seconds"] < 10
    assert observed["after"] is False  # the process is out of the communicator again


def test_memory_files_live_in_anonymous_memory_are_sealed_and_gone_after_the_block():
    from accord.workloads.xgboost.federation import memory_files

    with memory_files({"key": b"secret bytes", "empty": b""}) as paths:
        assert Path(paths["key"]).read_bytes() == b"secret bytes"
        assert Path(paths["empty"]).read_bytes() == b""
        target = os.readlink(paths["key"])
        assert target.startswith("/memfd:accord-key")  # on no file system
        with pytest.raises(PermissionError):  # sealed: nobody changes the key under XGBoost
            Path(paths["key"]).write_bytes(b"other")
    assert not any(Path(path).exists() for path in paths.values())
