"""The console script as a user meets it: real subprocesses."""

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
    result = run("demo", "--work-dir", str(tmp_path / "work"))
    assert result.returncode == 0, result.stderr
    assert "demo succeeded" in result.stdout
    assert (tmp_path / "work" / "alice" / "train.sealed").is_file()
