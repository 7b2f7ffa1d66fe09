"""`accord measure`: the measurement, the listing or JSON; reproducible and change-sensitive."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from accord.attest.measurement import installed_package_root, measure_installed_package
from accord.cli.attest import register


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    register(app)
    return app


@pytest.fixture
def release(tmp_path):
    target = tmp_path / "unpacked" / "accord"
    shutil.copytree(installed_package_root(), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def run(*args: str) -> str:
    result = CliRunner().invoke(make_app(), ["measure", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_same_digest_on_two_runs_and_a_different_one_after_a_change(release):
    first = run("--root", str(release)).strip()
    second = run("--root", str(release)).strip()
    assert first == second
    assert len(first) == 64 and int(first, 16) >= 0
    source = release / "attest" / "verifier.py"
    content = bytearray(source.read_bytes())
    content[-2] ^= 0x20
    source.write_bytes(bytes(content))
    assert run("--root", str(release)).strip() != first


def test_default_measures_the_installed_package():
    assert run().strip() == measure_installed_package().digest


def test_listing_is_the_exact_hashed_bytes(release):
    listing = CliRunner().invoke(make_app(), ["measure", "--root", str(release), "--listing"])
    assert listing.stdout_bytes.startswith(b"accord-measurement-v1\n")
    digest = run("--root", str(release)).strip()
    assert hashlib.sha256(listing.stdout_bytes).hexdigest() == digest


def test_json_output(release):
    document = json.loads(run("--root", str(release), "--json"))
    assert document["format"] == "accord-measurement-v1"
    assert document["measurement"] == run("--root", str(release)).strip()
    assert document["root"] == str(release)
    assert "files" not in document
    detailed = json.loads(run("--root", str(release), "--json", "--listing"))
    assert len(detailed["files"]) == detailed["file_count"] == document["file_count"]
    assert {"path": "py.typed", "sha256": hashlib.sha256(b"").hexdigest()} in detailed["files"]


def test_a_real_process_reports_errors_without_a_traceback(tmp_path):
    script = (
        "import sys, typer\n"
        "from accord.cli.app import report_error\n"
        "from accord.cli.attest import register\n"
        "from accord.errors import AccordError\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "register(app)\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except AccordError as error:\n"
        "    report_error(error)\n"
        "    sys.exit(1)\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", script, "measure", "--root", str(empty)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "contains no files" in result.stderr
    assert "Traceback" not in result.stderr
