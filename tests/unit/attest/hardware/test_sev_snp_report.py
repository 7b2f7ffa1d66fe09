"""Parsing real SEV-SNP reports (Milan v2, Genoa v3) strictly, and refusing malformed ones."""

from __future__ import annotations

import json
import struct
from base64 import urlsafe_b64decode
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.attest.backends.snp_report import (
    REPORT_SIZE,
    SIGNED_LENGTH,
    TcbVersion,
    parse_unverified_snp_report,
)
from accord.errors import VerificationError

DATA = Path(__file__).parent / "data" / "sev-snp"
MILAN_REPORT = (DATA / "milan-attestation.bin").read_bytes()
MILAN_MEASUREMENT = (
    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b"
    "6bdf8a9ece31a5a608eb0cf2e4872b01"
)
MILAN_CHIP_ID = (
    "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e5378618"
    "4ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d"
)


def genoa_report() -> bytes:
    capture = json.loads((DATA / "genoa-configfs-tsm-report.json").read_text())
    blob = capture["outblob"]
    return urlsafe_b64decode(blob + "=" * (-len(blob) % 4))


def edited(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


def test_the_milan_report_parses_with_every_field_at_its_offset():
    report = parse_unverified_snp_report(MILAN_REPORT)
    assert report.version == 2
    assert report.guest_svn == 0
    assert report.report_data[:5] == bytes([1, 2, 3, 4, 5])
    assert report.report_data[5:] == bytes(59)
    assert report.measurement.hex() == MILAN_MEASUREMENT
    assert report.chip_id.hex() == MILAN_CHIP_ID
    assert report.policy.raw == 0xB0000
    assert report.policy.debug is True
    assert report.policy.flag("smt") is True
    assert report.policy.flag("migrate_ma") is False
    assert report.vmpl == 0
    assert report.signing_key == 0  # VCEK
    assert report.reported_tcb == TcbVersion(bootloader=2, tee=0, snp=5, microcode=68)
    assert report.current_tcb == report.committed_tcb == report.launch_tcb == report.reported_tcb
    assert report.current_firmware == (1, 49, 3)
    assert report.cpuid is None  # version 2 reports carry no CPUID
    assert report.launch_mit_vector is None and report.current_mit_vector is None
    assert report.signer_digest is None  # launched without an ID block
    assert report.signed_bytes == MILAN_REPORT[:SIGNED_LENGTH]
    assert report.signature_r == int.from_bytes(MILAN_REPORT[0x2A0:0x2E8], "little")
    assert report.signature_s == int.from_bytes(MILAN_REPORT[0x2E8:0x330], "little")


def test_the_genoa_version_3_report_parses_with_its_cpuid():
    report = parse_unverified_snp_report(genoa_report())
    assert report.version == 3
    assert report.cpuid == (0x19, 0x11, 1)
    assert report.policy.debug is False
    assert report.reported_tcb == TcbVersion(bootloader=10, tee=0, snp=23, microcode=84)
    assert report.report_data == b"MIDBNH28iioisjPy" + b"x" * 16 + b"MIDBNH28iioisjPy" + b"x" * 16
    extras = report.extras()
    assert extras["cpuid"] == "family 0x19, model 0x11, stepping 1"
    assert extras["policy_debug"] == "false"
    assert extras["reported_tcb_snp"] == "23"
    assert extras["report_version"] == "3"


def test_extras_name_every_policy_bit_and_tcb_part():
    extras = parse_unverified_snp_report(MILAN_REPORT).extras()
    assert extras["policy"] == "0x00000000000b0000"
    assert extras["policy_debug"] == "true"
    assert extras["policy_smt"] == "true"
    assert extras["vmpl"] == "0"
    assert extras["chip_id"] == MILAN_CHIP_ID
    assert extras["signing_key"] == "vcek"
    for prefix in ("current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"):
        assert extras[f"{prefix}_microcode"] == "68"
    assert all(isinstance(v, str) for v in extras.values())


def test_version_5_reports_carry_mitigation_vectors():
    raw = edited(MILAN_REPORT, 0, struct.pack("<I", 5))
    raw = edited(raw, 0x188, bytes([0x19, 0x01, 0x01]))
    raw = edited(raw, 0x1F8, struct.pack("<QQ", 0x3, 0x7))
    report = parse_unverified_snp_report(raw)
    assert report.version == 5
    assert (report.launch_mit_vector, report.current_mit_vector) == (3, 7)
    assert report.extras()["current_mit_vector"] == "0x0000000000000007"


@pytest.mark.parametrize("size", [0, 1183, 1185, 2 * REPORT_SIZE])
def test_a_report_of_the_wrong_size_is_refused(size):
    raw = (MILAN_REPORT * 2)[:size]
    with pytest.raises(VerificationError, match=f"it is {size} bytes; a report is exactly 1184"):
        parse_unverified_snp_report(raw)


def test_a_report_that_is_not_bytes_is_refused():
    with pytest.raises(VerificationError, match="expected bytes, got str"):
        parse_unverified_snp_report("report")  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, 1, 6, 0xFFFFFFFF])
def test_unsupported_versions_are_refused(version):
    with pytest.raises(VerificationError, match=f"report version {version} is not supported"):
        parse_unverified_snp_report(edited(MILAN_REPORT, 0, struct.pack("<I", version)))


def test_an_unknown_signature_algorithm_is_refused():
    with pytest.raises(VerificationError, match="signature algorithm 2 is not 1"):
        parse_unverified_snp_report(edited(MILAN_REPORT, 0x34, struct.pack("<I", 2)))


@pytest.mark.parametrize(
    ("offset", "where"),
    [
        (0x04C, "0x04c..0x04f"),
        (0x188, "0x188..0x19f"),  # CPUID bytes are reserved in version 2
        (0x19F, "0x188..0x19f"),
        (0x1EB, "0x1eb..0x1eb"),
        (0x1F8, "0x1f8..0x29f"),  # mitigation vectors are reserved before version 5
        (0x29F, "0x1f8..0x29f"),
        (0x330, "0x330..0x49f"),
        (0x49F, "0x330..0x49f"),
    ],
)
def test_non_zero_reserved_bytes_are_refused(offset, where):
    with pytest.raises(VerificationError, match=f"reserved bytes {where}"):
        parse_unverified_snp_report(edited(MILAN_REPORT, offset, b"\x01"))


def test_a_tcb_with_non_zero_reserved_bytes_is_refused():
    with pytest.raises(VerificationError, match="REPORTED_TCB has non-zero reserved bytes"):
        parse_unverified_snp_report(edited(MILAN_REPORT, 0x183, b"\x01"))


def test_a_policy_without_its_must_be_one_bit_is_refused():
    with pytest.raises(VerificationError, match="reserved bit 17 clear"):
        parse_unverified_snp_report(edited(MILAN_REPORT, 0x08, struct.pack("<Q", 0x90000)))


def test_a_policy_with_bits_this_release_cannot_judge_is_refused():
    policy = 0xB0000 | (1 << 40)
    with pytest.raises(VerificationError, match="sets bits above 25"):
        parse_unverified_snp_report(edited(MILAN_REPORT, 0x08, struct.pack("<Q", policy)))


@pytest.mark.parametrize(
    ("info", "message"),
    [(1 << 5, "sets reserved bits 5-31"), (3 << 2, "signing key value 3 is reserved")],
)
def test_malformed_signer_info_is_refused(info, message):
    with pytest.raises(VerificationError, match=message):
        parse_unverified_snp_report(edited(MILAN_REPORT, 0x48, struct.pack("<I", info)))


def test_a_turin_report_is_refused_because_its_tcb_layout_differs():
    raw = edited(genoa_report(), 0x188, bytes([0x1A, 0x02, 0x00]))
    with pytest.raises(VerificationError, match=r"family 1Ah \(Turin\)"):
        parse_unverified_snp_report(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=REPORT_SIZE, max_size=REPORT_SIZE))
def test_random_reports_fail_only_with_verification_errors(raw):
    try:
        parse_unverified_snp_report(raw)
    except VerificationError as exc:
        assert exc.message.startswith("malformed SEV-SNP attestation report")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, REPORT_SIZE - 1), st.integers(1, 255))
def test_every_single_byte_edit_parses_or_fails_with_a_named_field(offset, xor):
    raw = edited(MILAN_REPORT, offset, bytes([MILAN_REPORT[offset] ^ xor]))
    try:
        report = parse_unverified_snp_report(raw)
    except VerificationError as exc:
        assert "malformed SEV-SNP attestation report" in exc.message
    else:
        assert report.raw == raw
