"""``accord agreement`` through the real console script: init, add-party, sign, verify, show."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord.agreement import AgreementDocument, load_agreement, party_from_card, render_template
from accord.attest.measurement import measure_installed_package
from accord.party import PartyIdentity

ACCORD = Path(sys.executable).parent / "accord"


def accord(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [str(ACCORD), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], *message: str) -> None:
    assert result.returncode == 1, result
    for part in message:
        assert part in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def parties(tmp_path: Path) -> dict[str, PartyIdentity]:
    return {
        name: PartyIdentity.create(name, tmp_path / name, passphrase=None)
        for name in ("alice", "bob")
    }


@pytest.fixture
def draft(tmp_path: Path, parties: dict[str, PartyIdentity]) -> Path:
    """An unsigned agreement listing alice and bob, made through the library (fast)."""
    path = tmp_path / "agreement.toml"
    text = render_template(
        "Mushrooms",
        created=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
        measurements={"simulated": [measure_installed_package().digest]},
    )
    document = AgreementDocument.parse(text, source=str(path))
    for identity in parties.values():
        document = document.with_party(party_from_card(identity.card))
    document.save(path)
    return path


def test_init_writes_a_simulated_agreement_for_the_installed_code(tmp_path: Path) -> None:
    path = tmp_path / "agreement.toml"
    out = succeeded(
        accord(
            "agreement",
            "init",
            "Mushrooms",
            "--out",
            path,
            "--allow-simulated",
            "--description",
            "Demo",
        )
    )
    measurement = measure_installed_package().digest
    assert measurement in out
    assert "WARNING: simulated evidence is accepted" in out
    agreement = load_agreement(path)
    assert agreement.enclave.for_backend("simulated").measurements == {measurement}
    assert agreement.description == "Demo"
    failed(
        accord("agreement", "init", "Again", "--out", path, "--allow-simulated"), "already exists"
    )
    succeeded(accord("agreement", "init", "Again", "--out", path, "--allow-simulated", "--force"))
    assert load_agreement(path).name == "Again"


def test_init_needs_an_enclave_policy(tmp_path: Path) -> None:
    path = tmp_path / "agreement.toml"
    failed(accord("agreement", "init", "X", "--out", path), "which enclave code", "--measurement")
    failed(
        accord("agreement", "init", "X", "--out", path, "--measurement", f"simulated={'a' * 64}"),
        "without --allow-simulated",
    )
    failed(
        accord("agreement", "init", "X", "--out", path, "--measurement", "sgx-dcap=abc"),
        "must be 64 hexadecimal digits",
    )
    failed(
        accord(
            "agreement",
            "init",
            "X",
            "--out",
            path,
            "--allow-simulated",
            "--measurement",
            f"tdx={'a' * 96}",
        ),
        "--allow-simulated cannot be combined with hardware measurements",
    )
    assert not path.exists()
    out = succeeded(
        accord("agreement", "init", "X", "--out", path, "--measurement", f"sgx-dcap={'A' * 64}")
    )
    assert "WARNING" not in out
    assert load_agreement(path).enclave.for_backend("sgx-dcap").measurements == {"a" * 64}


def test_add_party_copies_the_card_and_refuses_duplicates(
    tmp_path: Path, parties: dict[str, PartyIdentity]
) -> None:
    draft = tmp_path / "agreement.toml"
    succeeded(accord("agreement", "init", "Mushrooms", "--out", draft, "--allow-simulated"))
    for name in parties:
        out = succeeded(
            accord("agreement", "add-party", draft, "--card", tmp_path / name / "card.json")
        )
        assert f"Added party {name}" in out
    agreement = load_agreement(draft)
    assert agreement.party_names == ("alice", "bob")
    alice = parties["alice"].card
    assert agreement.party("alice").verify_key == alice.verify_key
    assert agreement.party("alice").tls_certificate_fingerprint == alice.tls_certificate_fingerprint
    assert "# Parties are added below" in draft.read_text()  # the template's comments stay
    before = draft.read_text()
    failed(
        accord("agreement", "add-party", draft, "--card", tmp_path / "bob"),
        "already lists party 'bob'",
    )
    assert draft.read_text() == before


def test_add_party_refuses_a_tampered_card(tmp_path: Path, draft: Path) -> None:
    carol = PartyIdentity.create("carol", tmp_path / "carol", passphrase=None)
    card = json.loads((tmp_path / "carol" / "card.json").read_text())
    card["created_at"] = "2020-01-01T00:00:00Z"
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(card))
    failed(accord("agreement", "add-party", draft, "--card", forged), "self_signature")
    assert "carol" not in load_agreement(draft).party_names
    out = succeeded(
        accord(
            "agreement",
            "add-party",
            draft,
            "--card",
            tmp_path / "carol" / "card.json",
            "--contact",
            "carol@example.org",
        )
    )
    assert carol.card.signing_key_fingerprint in out
    assert load_agreement(draft).party("carol").contact == "carol@example.org"


def test_sign_then_verify(tmp_path: Path, draft: Path) -> None:
    digest = load_agreement(draft).digest
    failed(accord("agreement", "sign", draft, "--party", tmp_path / "alice"), "--yes")
    failed(accord("agreement", "verify", draft), "unsigned by alice, bob")

    out = succeeded(accord("agreement", "sign", draft, "--party", tmp_path / "alice", "--yes"))
    assert digest in out
    assert "Signed" in out and "Still to sign or fix: bob" in out
    failed(accord("agreement", "verify", draft), "unsigned by bob")

    out = succeeded(accord("agreement", "sign", draft, "--party", tmp_path / "bob", "--yes"))
    assert "in force" in out
    out = succeeded(accord("agreement", "verify", draft))
    assert f"Digest: {digest}" in out
    assert "signed by all 2 parties" in out
    assert load_agreement(draft).digest == digest


def test_a_party_not_in_the_agreement_cannot_sign(tmp_path: Path, draft: Path) -> None:
    PartyIdentity.create("mallory", tmp_path / "mallory", passphrase=None)
    failed(
        accord("agreement", "sign", draft, "--party", tmp_path / "mallory", "--yes"),
        "'mallory' is not a party",
    )


def test_tampering_after_signing_is_detected(tmp_path: Path, draft: Path) -> None:
    for name in ("alice", "bob"):
        succeeded(accord("agreement", "sign", draft, "--party", tmp_path / name, "--yes"))
    text = draft.read_text()
    draft.write_text(text.replace("models = []", 'models = ["alice"]'))
    failed(accord("agreement", "verify", draft), "does not verify", "content changed")


def test_adding_a_party_removes_the_signatures_and_says_so(tmp_path: Path, draft: Path) -> None:
    succeeded(accord("agreement", "sign", draft, "--party", tmp_path / "alice", "--yes"))
    PartyIdentity.create("carol", tmp_path / "carol", passphrase=None)
    out = succeeded(accord("agreement", "add-party", draft, "--card", tmp_path / "carol"))
    assert "Removed 1 signature(s) (alice)" in out
    assert dict(load_agreement(draft).unverified_signatures) == {}


def test_show_prints_everything_a_signer_must_review(
    tmp_path: Path, draft: Path, parties: dict[str, PartyIdentity]
) -> None:
    succeeded(accord("agreement", "sign", draft, "--party", tmp_path / "alice", "--yes"))
    out = succeeded(accord("agreement", "show", draft))
    agreement = load_agreement(draft)
    assert agreement.digest in out
    for identity in parties.values():
        assert identity.card.signing_key_fingerprint in out
        assert identity.card.tls_certificate_fingerprint in out
    assert "WARNING: simulated evidence is accepted" in out
    assert "all of alice, bob" in out
    assert "predictions on bob's data go to bob" in out
    assert "Signatures: 1 of 2 parties; not in force" in out

    report = json.loads(succeeded(accord("agreement", "show", draft, "--json")))
    assert report["digest"] == agreement.digest
    assert report["signatures"] == {"alice": "valid", "bob": "missing"}
    assert report["in_force"] is False
    assert report["content"]["parties"][0]["name"] == "alice"
    assert report["warnings"]


def test_a_malformed_agreement_is_refused_with_its_line(draft: Path) -> None:
    text = draft.read_text().replace("models = []", 'models = ["zoe"]')
    draft.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("models"))
    for command in ("show", "verify"):
        failed(
            accord("agreement", command, draft),
            f"{draft} line {line}: 'models' in [outputs] names unknown party 'zoe'",
        )
