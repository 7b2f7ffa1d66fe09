"""The console script as a user meets it: real subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

import accord

ACCORD = str(Path(sys.executable).with_name("accord"))


def run(*args, cwd=None):
    return subprocess.run([ACCORD, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"accord {accord.__version__}"


def test_accord_error_is_one_paragraph_without_traceback(tmp_path):
    result = run("party", "show", str(tmp_path / "nobody"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error" in result.stderr
    assert str(tmp_path / "nobody") in result.stderr


def test_unknown_command_is_a_usage_error():
    result = run("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_demo_runs_green(tmp_path):
    """The README's main command: two parties, two enclave nodes as processes, under a minute."""
    work = tmp_path / "work"
    result = run("demo", "--work-dir", str(work))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo succeeded" in result.stdout
    summary = json.loads((work / "summary.json").read_text())
    assert summary["ok"] is True and summary["nodes"] == 2 and summary["rounds"] == 10
    assert [p["name"] for p in summary["parties"]] == ["alice", "bob"]
    for party in summary["parties"]:
        assert party["accuracy"] > 0.9
        assert party["predictions"] == party["test_rows"] > 0
        assert party["key_released_to"] == ["node-1", "node-2"]
        assert f"{party['accuracy']:.2%}" in result.stdout  # the summary table shows it
    assert summary["audit_verified"] is True
    assert summary["audit_entries"] == {"node-1": 6, "node-2": 6}
    assert "verified by every party" in result.stdout
    assert summary["seconds"] < 60
    assert (work / "alice" / "train.sealed").is_file()
