"""Host-supplied SEV-SNP certificates that cryptography loads but cannot decode part of.

cryptography decodes a certificate's names, extensions and key only when they are first read.
The host controls the certificate table that comes with a report, so it can send an ASK
with a duplicate or malformed extension, or a VCEK or ARK whose issuer name is not valid
UTF-8. Each must be refused with a VerificationError naming the certificate and the part,
through the backend verifier, the Verifier, and ``accord attest verify`` (exit 1, one
paragraph, no traceback). A verifier that still fails in an unforeseen way is refused by
the backstop without repeating the exception's text.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from attest_helpers import make_session_keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accord.attest import AllOf, BackendIn, Verifier
from accord.attest.backends.configfs_tsm import ConfigfsTsmCapture
from accord.attest.backends.sev_snp import SevSnpVerifier, evidence_from_report
from accord.attest.backends.snp_cert_table import (
    ARK_GUID,
    ASK_GUID,
    VCEK_GUID,
    is_ca,
    parse_aux_certificates,
    parse_certificate_table,
)
from accord.attest.offline import verify_offline
from accord.errors import VerificationError

DATA = Path(__file__).parent / "data" / "sev-snp"
CAPTURE = ConfigfsTsmCapture.from_json((DATA / "genoa-configfs-tsm-report.json").read_bytes())
REPORT = CAPTURE.outblob
TABLE = parse_certificate_table(CAPTURE.auxblob)
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SKI_OID = bytes([0x06, 0x03, 0x55, 0x1D, 0x0E])
BASIC_CONSTRAINTS_OID = bytes([0x06, 0x03, 0x55, 0x1D, 0x13])
SCRIPT = "from accord.cli.app import main; main()"


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def table(*entries: tuple[object, bytes]) -> bytes:
    header, body = b"", b""
    offset = 24 * (len(entries) + 1)
    for guid, blob in entries:
        header += guid.bytes + struct.pack("<II", offset + len(body), len(blob))  # type: ignore[attr-defined]
        body += blob
    return header + bytes(24) + body


def fake_ask(*extensions: x509.ExtensionType) -> bytes:
    """An ASK-shaped certificate (AMD's names) with the given extensions, self-made."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(TABLE.ask.subject)  # type: ignore[union-attr]
        .issuer_name(TABLE.ask.issuer)  # type: ignore[union-attr]
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=9000))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return der(builder.sign(key, hashes.SHA256()))


def duplicate_basic_constraints() -> bytes:
    """A certificate with basicConstraints twice (the second one's OID patched in the DER)."""
    blob = fake_ask(
        x509.BasicConstraints(ca=True, path_length=None), x509.SubjectKeyIdentifier(b"\x01" * 20)
    )
    assert blob.count(SKI_OID) == 1
    return blob.replace(SKI_OID, BASIC_CONSTRAINTS_OID)


def malformed_basic_constraints() -> bytes:
    """A certificate whose basicConstraints value is a SET where a SEQUENCE belongs."""
    blob = bytearray(fake_ask(x509.BasicConstraints(ca=True, path_length=None)))
    octet_string = blob.index(b"\x04", blob.index(BASIC_CONSTRAINTS_OID) + 5)
    assert blob[octet_string + 2] == 0x30
    blob[octet_string + 2] = 0x31
    return bytes(blob)


def invalid_utf8_issuer(certificate: x509.Certificate) -> bytes:
    """The certificate with its issuer's organisation turned into a UTF8String of bad UTF-8."""
    blob = bytearray(der(certificate))
    position = blob.index(b"Advanced Micro Devices")  # the first occurrence is in the issuer
    blob[position - 2] = 0x0C
    blob[position : position + 2] = b"\xff\xfe"
    return bytes(blob)


HOSTILE = {
    "an ASK with basicConstraints twice": (
        table((VCEK_GUID, der(TABLE.vcek)), (ASK_GUID, duplicate_basic_constraints())),  # type: ignore[arg-type]
        "the ASK certificate cannot be parsed: malformed extensions (DuplicateExtension)",
    ),
    "an ASK with a malformed basicConstraints": (
        table((VCEK_GUID, der(TABLE.vcek)), (ASK_GUID, malformed_basic_constraints())),  # type: ignore[arg-type]
        "the ASK certificate cannot be parsed: malformed extensions (ValueError)",
    ),
    "a PEM certificate with basicConstraints twice": (
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(duplicate_basic_constraints())
        + b"-----END CERTIFICATE-----\n",
        "certificate 1 of the SEV-SNP certificates PEM cannot be parsed: malformed extensions "
        "(DuplicateExtension)",
    ),
    "a VCEK whose issuer is not UTF-8": (
        table((VCEK_GUID, invalid_utf8_issuer(TABLE.vcek)), (ASK_GUID, der(TABLE.ask))),  # type: ignore[arg-type]
        "the VCEK certificate cannot be parsed: malformed issuer name (ValueError)",
    ),
    "an ARK whose issuer is not UTF-8": (
        table(
            (VCEK_GUID, der(TABLE.vcek)),  # type: ignore[arg-type]
            (ASK_GUID, der(TABLE.ask)),  # type: ignore[arg-type]
            (ARK_GUID, invalid_utf8_issuer(TABLE.ark)),  # type: ignore[arg-type]
        ),
        "the ARK certificate cannot be parsed: malformed issuer name (ValueError)",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_backend_verifier_refuses_undecodable_certificates_naming_them(name):
    aux, message = HOSTILE[name]
    with pytest.raises(VerificationError) as caught:
        SevSnpVerifier().verify_raw(REPORT, aux=aux, at=AT)
    assert caught.value.message == message


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_verifier_refuses_them_at_the_authenticity_check(name, nonce):
    aux, message = HOSTILE[name]
    evidence = evidence_from_report(REPORT, aux=aux, issued_at=AT)
    verifier = Verifier(
        policy=AllOf([BackendIn(["sev-snp"])]), backends={"sev-snp": SevSnpVerifier()}
    )
    with pytest.raises(VerificationError) as caught:
        verifier.verify(evidence, nonce=nonce, expected=make_session_keys(), at=AT)
    assert caught.value.message == message


def test_the_real_table_still_verifies():
    claims = SevSnpVerifier().verify_raw(REPORT, aux=CAPTURE.auxblob, at=AT)
    assert claims.extras["product"] == "Genoa"


def test_a_single_der_certificate_with_a_bad_extension_is_named_not_taken_for_a_table():
    with pytest.raises(VerificationError, match="the SEV-SNP certificate cannot be parsed"):
        parse_aux_certificates(duplicate_basic_constraints())


def test_is_ca_refuses_undecodable_extensions_instead_of_raising_theirs():
    certificate = x509.load_der_x509_certificate(duplicate_basic_constraints())
    with pytest.raises(VerificationError, match=r"extensions are malformed \(DuplicateExtension\)"):
        is_ca(certificate)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_accord_attest_verify_exits_1_with_one_paragraph(name, tmp_path):
    aux, message = HOSTILE[name]
    report, collateral = tmp_path / "genoa.bin", tmp_path / "aux.bin"
    report.write_bytes(REPORT)
    collateral.write_bytes(aux)
    args = ["attest", "verify", report, "--backend", "sev-snp", "--collateral", collateral]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, args), "--at", "2026-01-01T00:00:00Z"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error (VerificationError): {message}")
    assert len(result.stderr.strip().splitlines()) <= 3  # message, hint; no stack


# The backstop: whatever a backend verifier raises besides Accord errors.


class _Exploding:
    backend = "sev-snp"

    def __init__(self, exception: Exception) -> None:
        self._exception = exception

    def verify_raw(self, raw: bytes, *, aux: bytes, at: dt.datetime) -> object:
        raise self._exception


@pytest.mark.parametrize(
    "exception",
    [ValueError("attacker bytes \xff\xfe<script>"), KeyError("x"), RecursionError("deep")],
)
def test_a_verifier_failing_unexpectedly_is_refused_without_echoing(exception, nonce, caplog):
    verifier = Verifier(
        policy=AllOf([BackendIn(["sev-snp"])]), backends={"sev-snp": _Exploding(exception)}
    )
    evidence = evidence_from_report(REPORT, aux=b"", issued_at=AT)
    with (
        caplog.at_level(logging.WARNING, logger="accord.attest"),
        pytest.raises(VerificationError) as caught,
    ):
        verifier.verify(evidence, nonce=nonce, expected=make_session_keys(), at=AT)
    name = type(exception).__name__
    assert caught.value.message == f"the sev-snp evidence could not be parsed: {name}"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "attacker" not in str(caught.value.diagnostics())
    assert name in caplog.text and "attacker" not in caplog.text


def test_offline_verification_has_the_same_backstop(monkeypatch):
    def explode(self, raw, *, aux, at):
        raise IndexError("index out of range at attacker offset")

    monkeypatch.setattr(SevSnpVerifier, "verify_raw", explode)
    with pytest.raises(VerificationError) as caught:
        verify_offline(REPORT, at=AT, kind="sev-snp", aux=CAPTURE.auxblob)
    assert caught.value.message == "the sev-snp evidence could not be parsed: IndexError"
