"""Re-encoded evidence: bytes appended to a DCAP quote, and the other valid SEV-SNP signature.

A DCAP quote's length is fixed by its header and its signature data length, so bytes after
the signature data are refused (a TDX quote may be followed by zero padding, which real
quoting services produce). An ECDSA signature (r, s) has a twin (r, n - s) that verifies just
as well, and AMD does not say which one its secure processor emits, so both are accepted:
the test shows that the twin yields exactly the same claims. Raw evidence bytes are
therefore never an identity (docs/attestation.md); the authenticated claims are.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hardware_vectors import (
    SGX_AT,
    SGX_QUOTE,
    TDX_AT,
    TDX_COLLATERAL,
    TDX_QUOTE,
    collateral,
)

from accord.attest.backends import SgxDcapVerifier, TdxVerifier
from accord.attest.backends.configfs_tsm import ConfigfsTsmCapture
from accord.attest.backends.dcap import verify_dcap_quote
from accord.attest.backends.dcap_quote import parse_quote_body
from accord.attest.backends.sev_snp import SevSnpVerifier
from accord.attest.offline import verify_offline
from accord.errors import VerificationError

SGX = SGX_QUOTE.read_bytes()
TDX = TDX_QUOTE.read_bytes()
TDX_END = 4936  # header 48 + TD report 584 + length 4 + 4300 bytes of signature data
SNP_DATA = Path(__file__).parent / "data" / "sev-snp"
GENOA = ConfigfsTsmCapture.from_json((SNP_DATA / "genoa-configfs-tsm-report.json").read_bytes())
P384_ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)
SIGNATURE_S = slice(0x2E8, 0x2E8 + 72)
APPENDED = "bytes follow its signature data"


def test_the_real_tdx_quote_ends_in_zero_padding_after_its_signature_data():
    (length,) = struct.unpack_from("<I", TDX, 48 + 584)
    assert 48 + 584 + 4 + length == TDX_END
    assert len(TDX) == TDX_END + 70 and not any(TDX[TDX_END:])


@pytest.mark.parametrize("appended", [b"\x00", b"\x00" * 100, b"X" * 100])
def test_bytes_appended_to_an_sgx_quote_are_refused(appended):
    with pytest.raises(VerificationError) as caught:
        verify_dcap_quote(SGX + appended, tee="SGX", collateral=collateral(), at=SGX_AT)
    assert caught.value.message == (
        f"the quote is malformed: {len(appended)} bytes follow its signature data: a quote's "
        "length is fixed by its header and signature data length, so nothing may follow it"
    )


@pytest.mark.parametrize("appended", [b"X", b"\x00" * 10 + b"\x01", b"X" * 100])
def test_non_zero_bytes_after_a_tdx_quote_are_refused(appended):
    with pytest.raises(VerificationError, match="so nothing but zero padding may follow it"):
        TdxVerifier(collateral=collateral(TDX_COLLATERAL)).verify_raw(
            TDX + appended, aux=b"", at=TDX_AT
        )


def test_zero_padding_after_a_tdx_quote_changes_nothing_that_is_authenticated():
    verifier = TdxVerifier(collateral=collateral(TDX_COLLATERAL))
    as_produced = verifier.verify_raw(TDX, aux=b"", at=TDX_AT)
    trimmed = verifier.verify_raw(TDX[:TDX_END], aux=b"", at=TDX_AT)
    padded_more = verifier.verify_raw(TDX + bytes(30), aux=b"", at=TDX_AT)
    assert as_produced == trimmed == padded_more


@pytest.mark.parametrize("cut", [1, 100, 4164])
def test_a_quote_cut_inside_its_signature_data_is_refused_before_any_check(cut):
    with pytest.raises(VerificationError, match="signature data ends at byte 4600, after"):
        parse_quote_body(SGX[:-cut])


def test_a_quote_without_its_signature_data_length_is_refused():
    with pytest.raises(VerificationError, match="before its signature data length at byte 432"):
        parse_quote_body(SGX[:434])


def test_the_parsers_for_collectors_refuse_appended_bytes_too():
    with pytest.raises(VerificationError, match=APPENDED):
        SgxDcapVerifier().parse_unverified(SGX + b"junk", aux=b"")


def test_accord_attest_verify_refuses_an_appended_sgx_quote():
    with pytest.raises(VerificationError, match=APPENDED):
        verify_offline(SGX + bytes(8), at=SGX_AT, kind="sgx-dcap", collateral=collateral())


def test_the_twin_of_an_snp_signature_verifies_to_the_same_claims():
    raw = GENOA.outblob
    s = int.from_bytes(raw[SIGNATURE_S], "little")
    twin = bytearray(raw)
    twin[SIGNATURE_S] = (P384_ORDER - s).to_bytes(72, "little")
    assert bytes(twin) != raw
    verifier = SevSnpVerifier()
    at = SGX_AT.replace(year=2026)
    assert verifier.verify_raw(bytes(twin), aux=GENOA.auxblob, at=at) == verifier.verify_raw(
        raw, aux=GENOA.auxblob, at=at
    )


def test_an_snp_signature_s_above_the_order_is_refused():
    raw = bytearray(GENOA.outblob)
    s = int.from_bytes(raw[SIGNATURE_S], "little")
    raw[SIGNATURE_S] = (s + P384_ORDER).to_bytes(72, "little")
    with pytest.raises(VerificationError, match="signature does not verify with the VCEK"):
        SevSnpVerifier().verify_raw(bytes(raw), aux=GENOA.auxblob, at=SGX_AT.replace(year=2026))
