"""``accord demo`` on the real runtime: an orchestrator and enclave nodes as processes.

The default run (two parties, two nodes) is the console-script test in test_cli_app.py;
here the demo runs in process with other party and node counts, and fails cleanly.
"""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from accord.demo import DemoOptions, run_demo
from accord.demo.scenario import MIN_ACCURACY

ACCORD = str(Path(sys.executable).with_name("accord"))

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


def test_three_parties_one_node_each_get_their_own_predictions(tmp_path):
    out = StringIO()
    result = run_demo(
        DemoOptions(parties=3, nodes=1, work_dir=tmp_path), console=Console(file=out, width=200)
    )
    text = out.getvalue()
    assert result.ok, result.error or text
    assert [p.name for p in result.parties] == ["alice", "bob", "carol"]
    assert sum(p.test_rows for p in result.parties) == 1611  # agaricus.txt.test
    for party in result.parties:
        assert party.key_released_to == ["node-1"]
        assert party.predictions == party.test_rows
        assert party.accuracy >= MIN_ACCURACY
    assert result.audit_verified and result.audit_entries == {
        "node-1": 7
    }  # 2 load, train, 3 predict, evaluate
    assert result.joint_metrics["auc"] > 0.97
    # every other party signed each proposal, and read the full train command first
    assert text.count("operation:   train") == 1
    assert "carol checked it" in text and "rule:        needs all of alice, bob, carol" in text
    assert "SIMULATED enclaves" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is True and summary["nodes"] == 1
    assert not list((tmp_path / "cloud" / "nodes").glob("*/keys*"))  # nodes keep keys in memory


def test_a_failing_step_ends_with_exit_status_1_and_the_cause(tmp_path):
    (tmp_path / "alice").write_text("a file where alice's folder should be")
    result = subprocess.run(
        [ACCORD, "demo", "--work-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "failed at step 1. Each party creates its identity" in result.stdout
    assert "demo failed" in result.stdout and "Traceback" not in result.stderr
    assert json.loads((tmp_path / "summary.json").read_text())["ok"] is False
