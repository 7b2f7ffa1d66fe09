"""The Ray scale-out without Ray installed, and its argument checks (no Ray cluster needed)."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from accord.cli.app import app
from accord.cli.cluster import parse_resources
from accord.cluster.ray import INSTALL_HINT, import_ray, start_ray_nodes
from accord.cluster.ray_actor import read_port
from accord.errors import ConfigurationError, UsageError


@pytest.fixture
def no_ray(monkeypatch):
    """Make ``import ray`` fail as it does where the package is not installed."""
    monkeypatch.setitem(sys.modules, "ray", None)


def test_without_ray_the_import_says_how_to_install_it(no_ray):
    with pytest.raises(ConfigurationError, match="optional 'ray' package") as failure:
        import_ray()
    assert failure.value.hint == INSTALL_HINT
    assert "pip install 'accord[ray]'" in INSTALL_HINT


def test_without_ray_start_refuses_before_touching_anything(no_ray, tmp_path):
    agreement = tmp_path / "agreement.toml"
    agreement.write_text("public")
    with pytest.raises(ConfigurationError, match="optional 'ray' package"):
        start_ray_nodes("127.0.0.1:6379", nodes=2, agreement=agreement, state_dir=str(tmp_path))


def test_the_cli_without_ray_exits_1_with_the_install_command(tmp_path):
    script = (
        "import sys; sys.modules['ray'] = None; sys.argv = ['accord', 'cluster', 'down', "
        "'--ray', '127.0.0.1:6379']; from accord.cli.app import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "ConfigurationError" in result.stderr
    assert "pip install 'accord[ray]'" in result.stderr


def test_a_deployment_needs_at_least_one_node(tmp_path):
    with pytest.raises(UsageError, match="at least one node, not 0"):
        start_ray_nodes(None, nodes=0, agreement=tmp_path / "a.toml", state_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, {}),
        ('{"enclave": 1}', {"enclave": 1.0}),
        ('{"a": 0.5, "b": 2}', {"a": 0.5, "b": 2.0}),
    ],
)
def test_resources_are_a_json_object_of_amounts(text, expected):
    assert parse_resources(text) == expected


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("{enclave: 1}", "not JSON"),
        ("[1]", "JSON object"),
        ('{"enclave": -1}', "non-negative"),
        ('{"enclave": true}', "non-negative"),
        ('{"enclave": "1"}', "non-negative"),
    ],
)
def test_malformed_resources_are_refused_naming_the_option(text, cause):
    with pytest.raises(UsageError, match="--resources") as failure:
        parse_resources(text)
    assert cause in failure.value.message


def test_cluster_up_and_down_are_listed_in_the_help():
    result = CliRunner().invoke(app, ["cluster", "--help"])
    assert result.exit_code == 0
    assert "up" in result.output and "down" in result.output


@pytest.mark.parametrize("content", [b"", b"not a port", b"70000", b"-5", b"\xff\xfe"])
def test_a_corrupt_port_file_means_a_new_port_not_a_crash(tmp_path, caplog, content):
    port_file = tmp_path / "port"
    port_file.write_bytes(content)
    with caplog.at_level("WARNING", logger="accord.cluster"):
        assert read_port(port_file) == 0
    assert "corrupt" in caplog.text and str(port_file) in caplog.text


def test_a_kept_port_is_reused(tmp_path):
    port_file = tmp_path / "port"
    port_file.write_text("41234")
    assert read_port(port_file) == 41234
