"""The configuration file: what it accepts, and clear errors for what it does not."""

import shutil
import textwrap

import pytest

from accord.errors import ConfigurationError
from accord.orchestrator.config import (
    DEFAULT_EXECUTE_TIMEOUT_SECONDS,
    NodeConfig,
    load_config,
    load_party_certificates,
    parse_config,
)

BASE = """\
listen = "127.0.0.1:7000"
agreement = "agreement.toml"
data_dir = "data"
party_certificates = ["alice/tls-cert.pem"]
"""


def parse(text, tmp_path):
    return parse_config(textwrap.dedent(text), base_dir=tmp_path, source="orch.toml")


def refused(text, tmp_path, *needles):
    with pytest.raises(ConfigurationError) as caught:
        parse(text, tmp_path)
    for needle in needles:
        assert needle in caught.value.message, caught.value.message
    return caught.value


def test_a_full_configuration_is_read_with_paths_relative_to_the_file(tmp_path):
    path = tmp_path / "conf" / "orch.toml"
    path.parent.mkdir()
    path.write_text(
        BASE
        + textwrap.dedent(
            """\
            proposal_ttl_seconds = 600
            execute_timeout_seconds = 12.5
            max_blob_bytes = 1024
            party_card_dir = "cards"

            [[nodes]]
            id = "n1"
            address = "127.0.0.1:5001"

            [[nodes]]
            id = "n2"
            address = "[::1]:5002"
            """
        )
    )
    config = load_config(path)
    base = path.parent.resolve()
    assert config.listen == "127.0.0.1:7000"
    assert config.agreement_path == base / "agreement.toml"
    assert config.data_dir == base / "data"
    assert config.party_certificates == (base / "alice" / "tls-cert.pem",)
    assert config.party_card_dir == base / "cards"
    assert config.nodes == (NodeConfig("n1", "127.0.0.1:5001"), NodeConfig("n2", "[::1]:5002"))
    assert (config.proposal_ttl_seconds, config.execute_timeout_seconds) == (600, 12.5)
    assert config.max_blob_bytes == 1024
    assert config.source == str(path)


def test_defaults_apply_to_optional_keys(tmp_path):
    config = parse(BASE, tmp_path)
    assert config.nodes == ()
    assert config.execute_timeout_seconds == DEFAULT_EXECUTE_TIMEOUT_SECONDS
    assert config.party_card_dir is None


@pytest.mark.parametrize("key", ["listen", "agreement", "data_dir"])
def test_a_missing_required_key_is_named(tmp_path, key):
    text = "".join(line for line in BASE.splitlines(True) if not line.startswith(key))
    refused(text, tmp_path, "orch.toml", f"'{key}' is required")


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1:99999", ":7000", "a b:1"])
def test_a_malformed_listen_address_is_named(tmp_path, listen):
    text = BASE.replace("127.0.0.1:7000", listen)
    refused(text, tmp_path, "orch.toml", "'listen' is invalid", "HOST:PORT")


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ("listn = 1", ("'listn' is not a known key",)),
        ("proposal_ttl_seconds = true", ("'proposal_ttl_seconds' must be a whole number",)),
        ("proposal_ttl_seconds = 0", ("'proposal_ttl_seconds' must be a whole number from 1",)),
        ("execute_timeout_seconds = -1", ("'execute_timeout_seconds' must be a number",)),
        ('execute_timeout_seconds = "5"', ("'execute_timeout_seconds'", "got '5'")),
        ("max_blob_bytes = 1.5", ("'max_blob_bytes' must be a whole number",)),
        ('nodes = "n1"', ("'nodes' must be a list of tables",)),
        ('[[nodes]]\nid = "n1"', ("'nodes[0]' needs 'address'",)),
        ('[[nodes]]\nid = "n1"\naddress = "a:1"\nport = 2', ("'nodes[0]' has unknown key 'port'",)),
        ('[[nodes]]\nid = "N 1"\naddress = "a:1"', ("'nodes[0].id' must be 1 to 63", "'N 1'")),
        ('[[nodes]]\nid = "n1"\naddress = "nowhere"', ("'nodes[0].address' is invalid",)),
        (
            '[[nodes]]\nid = "n1"\naddress = "a:1"\n[[nodes]]\nid = "n1"\naddress = "b:1"',
            ("'nodes[1].id' repeats node id 'n1'",),
        ),
        (
            '[[nodes]]\nid = "n1"\naddress = "a:1"\n[[nodes]]\nid = "n2"\naddress = "a:1"',
            ("'nodes[1].address' repeats the address of node 'n1'",),
        ),
        ("party_certificates = 3", ("'party_certificates' must be a list",)),
    ],
)
def test_invalid_values_are_refused_naming_file_and_key(tmp_path, extra, needles):
    text = BASE
    if extra.startswith("party_certificates"):
        text = text.replace('party_certificates = ["alice/tls-cert.pem"]\n', "")
    refused(text + extra + "\n", tmp_path, "orch.toml", *needles)


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    refused("listen = \n", tmp_path, "orch.toml is not valid TOML")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read orchestrator configuration"):
        load_config(tmp_path / "missing.toml")


def test_party_certificates_are_required(tmp_path):
    text = BASE.replace('party_certificates = ["alice/tls-cert.pem"]\n', "")
    refused(text, tmp_path, "give the parties' TLS certificates")


def config_with(tmp_path, entries, *, card_dir=None):
    listed = ", ".join(f'"{entry}"' for entry in entries)
    text = BASE.replace('["alice/tls-cert.pem"]', f"[{listed}]")
    if card_dir is not None:
        text += f'party_card_dir = "{card_dir}"\n'
    return parse(text, tmp_path)


def test_certificates_come_from_pem_files_cards_and_party_folders(
    tmp_path, agreement, alice, bob, carol
):
    entries = [alice.directory / "tls-cert.pem", bob.directory / "card.json", carol.directory]
    found = load_party_certificates(config_with(tmp_path, entries), agreement)
    assert found == {
        "alice": alice.tls_certificate_pem,
        "bob": bob.tls_certificate_pem,
        "carol": carol.tls_certificate_pem,
    }


def test_certificates_come_from_a_card_folder(tmp_path, agreement, parties):
    cards = tmp_path / "cards"
    cards.mkdir()
    for name, party in parties.items():
        shutil.copy(party.directory / "card.json", cards / f"{name}.json")
    found = load_party_certificates(config_with(tmp_path, [], card_dir=cards), agreement)
    assert sorted(found) == ["alice", "bob", "carol"]


def test_a_certificate_the_agreement_does_not_list_is_refused(
    tmp_path, agreement, alice, bob, carol, mallory
):
    entries = [alice.directory, bob.directory, carol.directory, mallory.directory]
    with pytest.raises(ConfigurationError) as caught:
        load_party_certificates(config_with(tmp_path, entries), agreement)
    assert "mallory" in caught.value.message
    assert "is not the TLS certificate of any party" in caught.value.message


def test_every_party_needs_a_certificate(tmp_path, agreement, alice):
    with pytest.raises(ConfigurationError, match="no TLS certificate for parties bob, carol"):
        load_party_certificates(config_with(tmp_path, [alice.directory]), agreement)


def test_an_unreadable_certificate_file_is_named(tmp_path, agreement):
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match=r"junk\.pem is not a readable PEM certificate"):
        load_party_certificates(config_with(tmp_path, [junk]), agreement)
    with pytest.raises(ConfigurationError, match="cannot read party certificate"):
        load_party_certificates(config_with(tmp_path, [tmp_path / "absent.pem"]), agreement)
