"""The real attestation vectors of tests/vectors/attestation, their fixed times, and tampering."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from accord.attest.backends.dcap import DcapCollateral

VECTORS = Path(__file__).resolve().parents[3] / "vectors" / "attestation"

SGX_QUOTE = VECTORS / "sgx-dcap" / "sgx_quote"
SGX_COLLATERAL = VECTORS / "sgx-dcap" / "sgx_quote_collateral.json"
TDX_QUOTE = VECTORS / "tdx" / "tdx_quote"
TDX_COLLATERAL = VECTORS / "tdx" / "tdx_quote_collateral.json"
OUTDATED_QUOTE = VECTORS / "tdx" / "tdx_quote_outdated"
OUTDATED_COLLATERAL = VECTORS / "tdx" / "tdx_quote_outdated_collateral.json"
RATLS = VECTORS / "ra-tls"
GRAMINE_CERT = RATLS / "gramine-cert.pem"
RATLS_CERTS = sorted(RATLS.glob("*.pem"))

# Fixed verification times inside each collateral's validity window (see the README).
SGX_AT = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
TDX_AT = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
OUTDATED_AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
SGX_WINDOW = (
    dt.datetime(2025, 6, 19, 10, 56, 11, tzinfo=dt.UTC),
    dt.datetime(2025, 7, 19, 10, 1, 18, tzinfo=dt.UTC),
)

SGX_MRENCLAVE = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
SGX_MRSIGNER = "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
TDX_MRTD = (
    "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407"
    "de03ae6dc5f87f27428b2538873118b7"
)
TDX_RTMR0 = (
    "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c"
    "48aca29b220b80b6a540cf994b9bc9c0"
)

# Offsets in the v3 SGX quote: header 48, report body 384, signature data length at 432.
SGX_BODY = 48
SGX_MRENCLAVE_OFFSET = SGX_BODY + 64
SGX_REPORT_DATA_OFFSET = SGX_BODY + 320
SGX_SIGNATURE_OFFSET = 436
SGX_ATTESTATION_KEY_OFFSET = SGX_SIGNATURE_OFFSET + 64
SGX_QE_REPORT_OFFSET = SGX_SIGNATURE_OFFSET + 128
TDX_MRTD_OFFSET = 48 + 136


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    """Return ``data`` with one bit of the byte at ``offset`` flipped."""
    changed = bytearray(data)
    changed[offset] ^= mask
    return bytes(changed)


def pem_flip(data: bytes, marker: bytes, occurrence: int = 1, skip: int = 200) -> bytes:
    """Flip a base64 character ``skip`` bytes into the ``occurrence``-th PEM block."""
    position = -1
    for _ in range(occurrence):
        position = data.index(marker, position + 1)
    target = position + len(marker) + skip
    changed = bytearray(data)
    changed[target] = ord("A") if changed[target] != ord("A") else ord("B")
    return bytes(changed)


def collateral(path: Path = SGX_COLLATERAL) -> DcapCollateral:
    return DcapCollateral.from_file(path)


def collateral_with(path: Path, member: str, change) -> DcapCollateral:
    """Collateral whose ``member`` (a string) is replaced by ``change(member)``."""
    obj = json.loads(path.read_bytes())
    obj[member] = change(obj[member])
    return DcapCollateral.from_json(json.dumps(obj).encode(), source=f"tampered {member}")


def hex_flip(text: str, index: int = -10) -> str:
    """Change one hex digit of ``text``."""
    digit = text[index]
    return text[:index] + ("0" if digit != "0" else "1") + text[len(text) + index + 1 :]
