"""Collecting SGX DCAP quotes through Gramine's /dev/attestation, on a fake file tree."""

from __future__ import annotations

import pytest
from attest_helpers import T0, SettableClock

from accord.attest import Claims, Evidence
from accord.attest.backends import GramineSgxQuoter, SystemFiles, quoter_for
from accord.errors import ConfigurationError, UsageError, VerificationError

REPORT_DATA = bytes(range(64))
QUOTE = b"\x03\x00\x02\x00" + b"\x5a" * 1016  # shaped like an SGX quote v3; content is opaque


def gramine_tree(root, *, kind=b"dcap\n", quote=QUOTE):
    device = root / "dev" / "attestation"
    device.mkdir(parents=True)
    (device / "attestation_type").write_bytes(kind)
    (device / "user_report_data").write_bytes(b"\x00" * 64)
    if quote is not None:
        (device / "quote").write_bytes(quote)
    return device


def test_collects_the_quote_after_writing_the_report_data(tmp_path):
    device = gramine_tree(tmp_path)
    quoter = GramineSgxQuoter(files=SystemFiles(tmp_path), now=SettableClock())
    evidence = quoter.quote(REPORT_DATA)
    assert (device / "user_report_data").read_bytes() == REPORT_DATA
    assert isinstance(evidence, Evidence)
    assert evidence.backend == "sgx-dcap"
    assert evidence.raw == QUOTE
    assert evidence.report_data == REPORT_DATA
    assert evidence.issued_at == T0
    assert evidence.measurement is None and evidence.debug is None  # not parsed here
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence


def test_factory_builds_the_gramine_collector(tmp_path):
    gramine_tree(tmp_path)
    quoter = quoter_for("sgx-dcap", files=SystemFiles(tmp_path))
    assert isinstance(quoter, GramineSgxQuoter)
    assert quoter.quote(REPORT_DATA).raw == QUOTE


def test_outside_gramine_the_device_is_missing(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        GramineSgxQuoter(files=SystemFiles(tmp_path)).quote(REPORT_DATA)
    assert "/dev/attestation is not available" in caught.value.message
    assert "sgx.remote_attestation" in caught.value.hint


@pytest.mark.parametrize("kind", [b"none", b"epid\n"])
def test_a_non_dcap_attestation_type_is_refused(tmp_path, kind):
    device = gramine_tree(tmp_path, kind=kind)
    with pytest.raises(ConfigurationError, match=f"attestation type is '{kind.decode().strip()}'"):
        GramineSgxQuoter(files=SystemFiles(tmp_path)).quote(REPORT_DATA)
    assert (device / "user_report_data").read_bytes() == b"\x00" * 64  # nothing was written


def test_a_missing_quote_file_names_the_path(tmp_path):
    gramine_tree(tmp_path, quote=None)
    with pytest.raises(ConfigurationError, match="cannot read /dev/attestation/quote"):
        GramineSgxQuoter(files=SystemFiles(tmp_path)).quote(REPORT_DATA)


def test_an_empty_quote_is_refused(tmp_path):
    gramine_tree(tmp_path, quote=b"")
    with pytest.raises(VerificationError, match="empty sgx-dcap quote"):
        GramineSgxQuoter(files=SystemFiles(tmp_path)).quote(REPORT_DATA)


class OffsetParser:
    """A toy parser: report data at a fixed offset (real parsing is the hardware issue's work)."""

    def parse_unverified(self, raw: bytes, *, aux: bytes) -> Claims:
        return Claims(
            backend="sgx-dcap",
            measurement=raw[4:36].hex(),
            signer=raw[36:68].hex(),
            security_version=raw[68],
            debug=False,
            report_data=raw[-64:],
        )


def test_a_parser_fills_the_description(tmp_path):
    gramine_tree(tmp_path, quote=b"\x03\x00\x02\x00" + b"\x11" * 64 + b"\x07" + REPORT_DATA)
    evidence = GramineSgxQuoter(files=SystemFiles(tmp_path), parser=OffsetParser()).quote(
        REPORT_DATA
    )
    assert evidence.measurement == "11" * 32
    assert evidence.security_version == 7


def test_a_parser_detects_a_quote_for_other_report_data(tmp_path):
    """Another thread's request raced ours: the quote binds its report data, not ours."""
    gramine_tree(tmp_path, quote=b"\x03\x00\x02\x00" + b"\x11" * 65 + b"\xee" * 64)
    quoter = GramineSgxQuoter(files=SystemFiles(tmp_path), parser=OffsetParser())
    with pytest.raises(
        VerificationError, match="does not carry the report data this enclave wrote"
    ):
        quoter.quote(REPORT_DATA)


def test_report_data_must_be_64_bytes(tmp_path):
    gramine_tree(tmp_path)
    with pytest.raises(UsageError, match="must be 64 bytes"):
        GramineSgxQuoter(files=SystemFiles(tmp_path)).quote(b"\x00" * 32)
