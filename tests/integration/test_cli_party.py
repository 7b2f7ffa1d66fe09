"""``accord party`` through the real console script, and ``open_party`` as commands use it."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli import party as party_cli
from accord.cli.common import open_party
from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.errors import KeyMaterialError
from accord.party import PartyCard, PartyIdentity

ACCORD = Path(sys.executable).parent / "accord"
PASSPHRASE = "tr0ub4dor&3 but longer"


def accord(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(ACCORD), *args],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def secret_forms(identity: PartyIdentity) -> list[str]:
    """Hex and base64 forms of every secret in ``identity`` (signing, TLS and data keys)."""
    scalar = identity.tls_key.sign_certificate_with().private_numbers().private_value
    pem_lines = identity.tls_key.export_pem(SECRET_KEY_ACCESS).decode().splitlines()[1:-1]
    forms = [line for line in pem_lines if len(line) >= 32]
    for raw in (
        identity.signing_key.export_raw(SECRET_KEY_ACCESS),
        identity.data_key.export_bytes(SECRET_KEY_ACCESS),
        scalar.to_bytes(32, "big"),
    ):
        forms += [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()]
        forms.append(base64.urlsafe_b64encode(raw).decode())
    return forms


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def protected_party(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("parties") / "hospital-a"
    result = accord(
        "party",
        "init",
        "hospital-a",
        "--dir",
        str(directory),
        "--passphrase-env",
        "HOSPITAL_PASS",
        env={"HOSPITAL_PASS": PASSPHRASE},
    )
    assert result.returncode == 0, result.stderr
    return directory


def test_init_with_passphrase_env_creates_a_protected_identity(protected_party) -> None:
    directory = protected_party
    assert sorted(os.listdir(directory)) == ["card.json", "party.key", "tls-cert.pem"]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "party.key").stat().st_mode) == 0o600
    identity = PartyIdentity.load(directory, passphrase=PASSPHRASE)
    assert identity.name == "hospital-a"
    key_file = json.loads((directory / "party.key").read_text())
    assert key_file["kdf"]["memory_cost_kib"] == 65536  # the production cost
    with pytest.raises(KeyMaterialError, match="wrong passphrase"):
        PartyIdentity.load(directory, passphrase="guess")


def test_show_prints_the_card_and_no_secret(protected_party) -> None:
    result = accord("party", "show", str(protected_party))
    assert result.returncode == 0, result.stderr
    card = PartyCard.load(protected_party)
    for public in (
        card.signing_key_fingerprint,
        card.tls_certificate_fingerprint,
        card.data_key_id,
        "hospital-a",
        "protected by a passphrase (argon2id t=3 p=4 m=64 MiB",
        "mode of party.key           │ 0600",
    ):
        assert public in result.stdout
    identity = PartyIdentity.load(protected_party, passphrase=PASSPHRASE)
    for form in [*secret_forms(identity), PASSPHRASE]:
        assert form not in result.stdout + result.stderr


def test_show_json_prints_the_card_file(protected_party) -> None:
    result = accord("party", "show", str(protected_party), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads((protected_party / "card.json").read_text())


def test_show_accepts_a_card_file(protected_party) -> None:
    result = accord("party", "show", str(protected_party / "card.json"))
    assert result.returncode == 0, result.stderr
    assert PartyCard.load(protected_party).signing_key_fingerprint in result.stdout
    assert "party.key" not in result.stdout


def test_init_without_passphrase_warns_and_show_prints_no_secret(tmp_path) -> None:
    directory = tmp_path / "bank"
    result = accord("party", "init", "bank", "--dir", str(directory), "--valid-days", "30")
    assert result.returncode == 0, result.stderr
    assert "is not protected by a passphrase" in result.stderr
    assert f"accord party protect {directory} --ask-passphrase" in result.stderr
    identity = PartyIdentity.load(directory, passphrase=None)
    assert identity.card.signing_key_fingerprint in result.stdout
    shown = accord("party", "show", str(directory))
    assert "NOT protected by a passphrase" in shown.stdout
    for form in secret_forms(identity):
        assert form not in result.stdout + result.stderr + shown.stdout + shown.stderr


def test_init_refuses_to_overwrite_without_force(tmp_path) -> None:
    directory = tmp_path / "bank"
    assert accord("party", "init", "bank", "--dir", str(directory)).returncode == 0
    before = (directory / "party.key").read_bytes()
    result = accord("party", "init", "bank", "--dir", str(directory))
    assert_clean_failure(result, f"{directory} already holds a party identity")
    assert (directory / "party.key").read_bytes() == before
    forced = accord("party", "init", "bank", "--dir", str(directory), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (directory / "party.key").read_bytes() != before


@pytest.mark.parametrize("target", ["missing", "empty"])
def test_show_of_a_directory_without_identity_fails_cleanly(tmp_path, target) -> None:
    directory = tmp_path / target
    if target == "empty":
        directory.mkdir()
    result = accord("party", "show", str(directory))
    assert_clean_failure(result, "KeyMaterialError")
    assert str(directory) in result.stderr


def test_show_of_a_tampered_card_fails_cleanly(tmp_path) -> None:
    directory = tmp_path / "bank"
    assert accord("party", "init", "bank", "--dir", str(directory)).returncode == 0
    card = json.loads((directory / "card.json").read_text())
    card["data_key_id"] = "0" * 32
    (directory / "card.json").write_text(json.dumps(card))
    assert_clean_failure(accord("party", "show", str(directory)), "'self_signature' does not")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--passphrase-env", "UNSET_VAR"], {}, "environment variable UNSET_VAR is not set"),
        (["--passphrase-env", "P", "--ask-passphrase"], {"P": "x"}, "not both"),
        ([], {}, "not a valid party name"),
    ],
    ids=["unset-env", "both-sources", "bad-name"],
)
def test_init_usage_errors_fail_cleanly(tmp_path, args, env, message) -> None:
    name = "Bad Name" if message.startswith("not a valid") else "bank"
    result = accord("party", "init", name, "--dir", str(tmp_path / "p"), *args, env=env)
    assert_clean_failure(result, message)
    assert not (tmp_path / "p").exists()


def test_protect_sets_and_changes_the_passphrase(tmp_path) -> None:
    directory = tmp_path / "bank"
    assert accord("party", "init", "bank", "--dir", str(directory)).returncode == 0
    fingerprint = PartyCard.load(directory).signing_key_fingerprint
    first = accord(
        "party", "protect", str(directory), "--passphrase-env", "NEW", env={"NEW": "one"}
    )
    assert first.returncode == 0, first.stderr
    assert PartyIdentity.needs_passphrase(directory)
    # The current passphrase is now needed, and a non-interactive run says how to give it.
    locked = accord("party", "protect", str(directory), "--passphrase-env", "NEW", env={"NEW": "2"})
    assert_clean_failure(locked, "protected by a passphrase and none was given")
    assert "ACCORD_PASSPHRASE" in locked.stderr
    wrong = accord(
        "party",
        "protect",
        str(directory),
        "--passphrase-env",
        "NEW",
        env={"NEW": "two", "ACCORD_PASSPHRASE": "nope"},
    )
    assert_clean_failure(wrong, "wrong passphrase for")
    second = accord(
        "party",
        "protect",
        str(directory),
        "--passphrase-env",
        "NEW",
        env={"NEW": "two", "ACCORD_PASSPHRASE": "one"},
    )
    assert second.returncode == 0, second.stderr
    identity = PartyIdentity.load(directory, passphrase="two")
    assert identity.card.signing_key_fingerprint == fingerprint


def test_ask_passphrase_prompts_twice_and_protects_the_file(tmp_path) -> None:
    directory = tmp_path / "lab"
    runner = CliRunner()
    result = runner.invoke(
        party_cli.app,
        ["init", "lab", "--dir", str(directory), "--ask-passphrase"],
        input="s3cret words\ns3cret words\n",
    )
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    PartyIdentity.load(directory, passphrase="s3cret words")


def test_open_party_reads_the_named_environment_variable(protected_party, monkeypatch) -> None:
    monkeypatch.setenv("MY_PASS", PASSPHRASE)
    identity = open_party(protected_party, passphrase_env="MY_PASS")
    assert identity.name == "hospital-a"


def test_open_party_without_passphrase_or_terminal_explains(protected_party, monkeypatch) -> None:
    monkeypatch.delenv("ACCORD_PASSPHRASE", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(KeyMaterialError, match="protected by a passphrase") as caught:
        open_party(protected_party)
    assert "ACCORD_PASSPHRASE" in caught.value.hint


def test_open_party_needs_no_passphrase_for_an_unprotected_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    created = PartyIdentity.create("bank", tmp_path / "bank", passphrase=None)
    assert open_party(tmp_path / "bank").card == created.card
