"""The parent of ``accord cluster up`` checks the Ray driver's JSON strictly before any key."""

import json

import pytest

from accord.cluster.ray_actor import node_argv, node_environment
from accord.cluster.ray_driver import parse_descriptions, parse_stopped
from accord.errors import ConfigurationError, TransportError

CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake+/=\n-----END CERTIFICATE-----\n"
GOOD = {
    "node_id": "node-1",
    "address": "10.0.0.11:41237",
    "session_id": "0123456789abcdef0123456789abcdef",
    "certificate_pem": CERT,
    "ray_node_id": "ab" * 28,
}


def _output(**changes):
    return json.dumps({"nodes": {"node-1": {**GOOD, **changes}}})


def test_well_formed_descriptions_are_accepted():
    node = parse_descriptions(_output())["node-1"]
    assert node.address == "10.0.0.11:41237" and node.certificate_pem == CERT


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"address": "10.0.0.11"}, "address"),
        ({"address": "10.0.0.11:99999"}, "inconsistent"),
        ({"session_id": "XYZ"}, "session_id"),
        ({"session_id": 5}, "session_id"),
        ({"certificate_pem": "-----BEGIN PRIVATE KEY-----\n"}, "certificate_pem"),
        ({"node_id": "node-2"}, "inconsistent"),
        ({"extra": "x"}, "wrong fields"),
    ],
)
def test_malformed_descriptions_are_refused_naming_the_field(changes, cause):
    with pytest.raises(TransportError, match=cause):
        parse_descriptions(_output(**changes))


@pytest.mark.parametrize("text", ["not json", "[]", '{"nodes": []}', '{"stopped": [1]}'])
def test_output_that_is_not_the_expected_object_is_refused(text):
    with pytest.raises(TransportError):
        parse_descriptions(text)
    with pytest.raises(TransportError):
        parse_stopped(text)


def test_a_driver_error_keeps_its_class_and_hint():
    text = json.dumps({"error": "no ray", "hint": "install it", "kind": "ConfigurationError"})
    with pytest.raises(ConfigurationError, match="no ray") as failure:
        parse_stopped(text)
    assert failure.value.hint == "install it"


def test_a_python_interpreter_runs_isolated_and_a_script_runs_as_is():
    assert node_argv("/opt/accord/bin/python3.12")[:2] == ["/opt/accord/bin/python3.12", "-I"]
    assert node_argv("/opt/accord/bin/accord") == ["/opt/accord/bin/accord"]


def test_the_node_environment_is_minimal_and_inside_the_state_folder(tmp_path):
    environment = node_environment(tmp_path)
    assert sorted(environment) == ["HOME", "LANG", "PATH", "PYTHONUNBUFFERED", "TMPDIR"]
    assert environment["PATH"] == "/usr/bin:/bin"
    assert environment["HOME"] == str(tmp_path / "home") and (tmp_path / "home").is_dir()
    assert environment["TMPDIR"] == str(tmp_path / "tmp") and (tmp_path / "tmp").is_dir()
