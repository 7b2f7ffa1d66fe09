"""The byte layout of Intel DCAP quotes (versions 3, 4 and 5): where each field of the report is.

Parsing proves nothing: :func:`~accord.attest.backends.dcap.verify_dcap_quote` checks the
signatures first, and the verifiers read the fields of a quote only after it passed. The
layouts follow Intel's ``sgx_quote_3.h``, ``sgx_quote_4.h`` and ``sgx_quote_5.h`` (all
integers little-endian)::

    header (48 bytes): version u16 | attestation key type u16 | TEE type u32 (0 = SGX,
                       0x81 = TDX) | QE SVN u16 | PCE SVN u16 | QE vendor id (16) | user data (20)
    v3, v4 body:       at offset 48: SGX report body (384 bytes) or TD report 1.0 (584 bytes)
    v5 body:           at offset 48: body type u16 (1 = SGX, 2 = TD 1.0, 3 = TD 1.5) |
                       body size u32 | body

    SGX report body:   CPUSVN (16) @0 | MISCSELECT u32 @16 | ISVEXTPRODID (16) @32 |
                       ATTRIBUTES (16) @48, flags u64 whose bit 1 is DEBUG | MRENCLAVE (32) @64 |
                       MRSIGNER (32) @128 | CONFIGID (64) @192 | ISVPRODID u16 @256 |
                       ISVSVN u16 @258 | CONFIGSVN u16 @260 | ISVFAMILYID (16) @304 |
                       REPORTDATA (64) @320
    TD report 1.0:     TEE_TCB_SVN (16) @0 | MRSEAM (48) @16 | MRSIGNERSEAM (48) @64 |
                       SEAMATTRIBUTES (8) @112 | TDATTRIBUTES (8) @120, bit 0 is DEBUG |
                       XFAM (8) @128 | MRTD (48) @136 | MRCONFIGID (48) @184 | MROWNER (48) @232 |
                       MROWNERCONFIG (48) @280 | RTMR0..3 (48 each) @328 | REPORTDATA (64) @520
    TD report 1.5:     TD report 1.0 | TEE_TCB_SVN2 (16) @584 | MRSERVICETD (48) @600
    after the body:    signature data length u32 | signature data (that many bytes)

**Length.** A quote's length is fixed by its header (version, TEE type, v5 body size) and its
signature data length, so nothing may follow an SGX quote's signature data. TDX quoting
services may hand out the quote in a larger zero-filled buffer (the real TDX quote of the test
vectors ends in 70 zero bytes), so a TDX quote may be followed by zero bytes, which carry
nothing; any other byte after the signature data is refused as malformed. The raw bytes are
still not an identity (the padding may vary, and an ECDSA signature has more than one valid
encoding): identify evidence by what it authenticates, never by a hash of its bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from accord.errors import VerificationError

__all__ = [
    "SGX",
    "TDX",
    "QuoteBody",
    "parse_quote_body",
]

SGX: Final = "SGX"
TDX: Final = "TDX"
HEADER_BYTES: Final = 48
_SIGNATURE_LENGTH: Final = struct.Struct("<I")
_TEE_TYPES: Final = {0x00: SGX, 0x81: TDX}
_SGX_BODY_BYTES: Final = 384
_TD10_BODY_BYTES: Final = 584
_TD15_BODY_BYTES: Final = 648
_V5_BODY_TYPES: Final = {
    1: (SGX, _SGX_BODY_BYTES),
    2: (TDX, _TD10_BODY_BYTES),
    3: (TDX, _TD15_BODY_BYTES),
}
_SGX_DEBUG_FLAG: Final = 0x02
_TD_DEBUG_FLAG: Final = 0x01

# (name, offset, size) of the fields read from each body, as hex unless listed in _INTEGERS.
_SGX_FIELDS: Final = (
    ("cpu_svn", 0, 16),
    ("misc_select", 16, 4),
    ("isv_ext_prod_id", 32, 16),
    ("attributes", 48, 16),
    ("mr_enclave", 64, 32),
    ("mr_signer", 128, 32),
    ("config_id", 192, 64),
    ("isv_prod_id", 256, 2),
    ("isv_svn", 258, 2),
    ("config_svn", 260, 2),
    ("isv_family_id", 304, 16),
)
_TD10_FIELDS: Final = (
    ("tee_tcb_svn", 0, 16),
    ("mr_seam", 16, 48),
    ("mr_signer_seam", 64, 48),
    ("seam_attributes", 112, 8),
    ("td_attributes", 120, 8),
    ("xfam", 128, 8),
    ("mr_td", 136, 48),
    ("mr_config_id", 184, 48),
    ("mr_owner", 232, 48),
    ("mr_owner_config", 280, 48),
    ("rtmr0", 328, 48),
    ("rtmr1", 376, 48),
    ("rtmr2", 424, 48),
    ("rtmr3", 472, 48),
)
_TD15_FIELDS: Final = (("tee_tcb_svn2", 584, 16), ("mr_service_td", 600, 48))
_INTEGERS: Final = frozenset({"misc_select", "isv_prod_id", "isv_svn", "config_svn"})
_REPORT_DATA_OFFSET: Final = {SGX: 320, TDX: 520}


@dataclass(frozen=True)
class QuoteBody:
    """The fields of a DCAP quote's report, as the quote states them.

    Parameters
    ----------
    tee
        ``"SGX"`` or ``"TDX"``.
    version
        The quote format version (3, 4 or 5).
    fields
        Field name to value: lower-case hex for byte fields, decimal text for integers
        (``isv_prod_id``, ``isv_svn``, ``misc_select``, ``config_svn``).
    report_data
        The 64 bytes of REPORTDATA.
    debug
        Whether the DEBUG attribute is set (SGX ATTRIBUTES bit 1, TDX TDATTRIBUTES bit 0).
    """

    tee: str
    version: int
    fields: MappingProxyType[str, str]
    report_data: bytes
    debug: bool


def _malformed(detail: str) -> VerificationError:
    return VerificationError(
        f"the quote is malformed: {detail}",
        hint="Pass the quote exactly as the platform produced it (binary, not hex or base64).",
    )


def _body_location(raw: bytes) -> tuple[str, int, int, int]:
    """Return the TEE, quote version, body offset and body size of ``raw``."""
    if len(raw) < HEADER_BYTES:
        raise _malformed(f"it has {len(raw)} bytes, fewer than the {HEADER_BYTES}-byte header")
    version, _key_type, tee_type = struct.unpack_from("<HHI", raw, 0)
    tee = _TEE_TYPES.get(tee_type)
    if tee is None:
        raise _malformed(f"its TEE type 0x{tee_type:x} is neither SGX (0x0) nor TDX (0x81)")
    if version in (3, 4):
        if version == 3 and tee != SGX:
            raise _malformed("a version 3 quote must be an SGX quote")
        return tee, version, HEADER_BYTES, _SGX_BODY_BYTES if tee == SGX else _TD10_BODY_BYTES
    if version == 5:
        if len(raw) < HEADER_BYTES + 6:
            raise _malformed("the version 5 body descriptor is truncated")
        body_type, size = struct.unpack_from("<HI", raw, HEADER_BYTES)
        known = _V5_BODY_TYPES.get(body_type)
        if known is None or known[0] != tee or known[1] != size:
            raise _malformed(f"version 5 body type {body_type} of {size} bytes is not supported")
        return tee, version, HEADER_BYTES + 6, size
    raise _malformed(f"quote version {version} is not supported (3, 4 and 5 are)")


def _check_length(raw: bytes, signature_offset: int, *, zero_padding: bool) -> None:
    """Refuse a quote truncated in its signature data, or followed by anything but padding."""
    if len(raw) < signature_offset + _SIGNATURE_LENGTH.size:
        raise _malformed(
            f"it ends after {len(raw)} bytes, before its signature data length at byte "
            f"{signature_offset}"
        )
    (signature_length,) = _SIGNATURE_LENGTH.unpack_from(raw, signature_offset)
    end = signature_offset + _SIGNATURE_LENGTH.size + signature_length
    if len(raw) < end:
        raise _malformed(
            f"its {signature_length}-byte signature data ends at byte {end}, after the "
            f"quote's {len(raw)} bytes"
        )
    trailing = raw[end:]
    if trailing and (any(trailing) or not zero_padding):
        allowed = "nothing but zero padding" if zero_padding else "nothing"
        raise _malformed(
            f"{len(trailing)} bytes follow its signature data: a quote's length is fixed by "
            f"its header and signature data length, so {allowed} may follow it"
        )


def parse_quote_body(raw: bytes) -> QuoteBody:
    """Read the report fields of a DCAP quote without checking any signature.

    Parameters
    ----------
    raw
        The quote bytes.

    Returns
    -------
    QuoteBody
        The fields, as the (not yet authenticated) quote states them.

    Raises
    ------
    VerificationError
        If the quote is too short, of an unsupported version or type, or followed by
        anything but zero padding (see the module docstring).
    """
    tee, version, offset, size = _body_location(raw)
    if len(raw) < offset + size:
        raise _malformed(
            f"its report body ends after {len(raw)} bytes, before byte {offset + size}"
        )
    _check_length(raw, offset + size, zero_padding=tee == TDX)
    body = raw[offset : offset + size]
    layout: tuple[tuple[str, int, int], ...] = _SGX_FIELDS if tee == SGX else _TD10_FIELDS
    if size == _TD15_BODY_BYTES:
        layout = layout + _TD15_FIELDS
    fields: dict[str, str] = {}
    for name, start, length in layout:
        chunk = body[start : start + length]
        fields[name] = str(int.from_bytes(chunk, "little")) if name in _INTEGERS else chunk.hex()
    report_offset = _REPORT_DATA_OFFSET[tee]
    debug_byte, debug_flag = (48, _SGX_DEBUG_FLAG) if tee == SGX else (120, _TD_DEBUG_FLAG)
    debug = bool(body[debug_byte] & debug_flag)
    return QuoteBody(
        tee=tee,
        version=version,
        fields=MappingProxyType(fields),
        report_data=body[report_offset : report_offset + 64],
        debug=debug,
    )
