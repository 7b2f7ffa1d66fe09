"""Strict parsing of AMD SEV-SNP attestation reports (``ATTESTATION_REPORT``, 1184 bytes).

The layout is that of AMD's *SEV Secure Nested Paging Firmware ABI Specification*
(publication 56860), report versions 2 to 5. Integers are little-endian; offsets are hex::

    000  4  VERSION            2..5
    004  4  GUEST_SVN
    008  8  POLICY             see GuestPolicy; bit 17 must be 1, bits 26-63 must be 0
    010 16  FAMILY_ID
    020 16  IMAGE_ID
    030  4  VMPL
    034  4  SIGNATURE_ALGO     1 = ECDSA P-384 with SHA-384 (the only one defined)
    038  8  CURRENT_TCB        see TcbVersion
    040  8  PLATFORM_INFO
    048  4  bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 2-4 SIGNING_KEY
            (0 VCEK, 1 VLEK, 7 none; 2-6 reserved), bits 5-31 must be 0
    04C  4  reserved, 0
    050 64  REPORT_DATA
    090 48  MEASUREMENT
    0C0 32  HOST_DATA
    0E0 48  ID_KEY_DIGEST
    110 48  AUTHOR_KEY_DIGEST
    140 32  REPORT_ID
    160 32  REPORT_ID_MA
    180  8  REPORTED_TCB       the TCB the VCEK that signs the report is derived from
    188  3  CPUID family, model, stepping (version 3 and later; 0 before)
    18B 21  reserved, 0
    1A0 64  CHIP_ID
    1E0  8  COMMITTED_TCB
    1E8  3  current firmware build, minor, major; 1EB reserved, 0
    1EC  3  committed firmware build, minor, major; 1EF reserved, 0
    1F0  8  LAUNCH_TCB
    1F8  8  LAUNCH_MIT_VECTOR  (version 5 and later; 0 before)
    200  8  CURRENT_MIT_VECTOR (version 5 and later; 0 before)
    208 152 reserved, 0
    2A0 72  SIGNATURE R        little-endian, zero-extended
    2E8 72  SIGNATURE S        little-endian, zero-extended
    330 368 reserved, 0

The signature covers bytes ``000..29F``. A TCB version (Milan and Genoa layout) holds the
security patch levels: byte 0 boot loader, byte 1 TEE, bytes 2-5 reserved (0), byte 6 SNP
firmware, byte 7 microcode. Turin (CPUID family 1Ah) uses another TCB layout and is refused.

Parsing proves nothing: :class:`SnpReport` is **unverified** until
:class:`~accord.attest.backends.sev_snp.SevSnpVerifier` has checked its signature and the
certificates of the key that made it. Every malformed report raises
:class:`~accord.errors.VerificationError` naming the field.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from accord.errors import VerificationError

__all__ = [
    "REPORT_SIZE",
    "SIGNED_LENGTH",
    "GuestPolicy",
    "SnpReport",
    "TcbVersion",
    "parse_unverified_snp_report",
]

REPORT_SIZE: Final = 0x4A0
SIGNED_LENGTH: Final = 0x2A0
SUPPORTED_VERSIONS: Final = range(2, 6)
ECDSA_P384_SHA384: Final = 1
SIGNING_KEY_VCEK: Final = 0
SIGNING_KEY_VLEK: Final = 1
SIGNING_KEY_NONE: Final = 7
SIGNING_KEY_NAMES: Final = {
    SIGNING_KEY_VCEK: "vcek",
    SIGNING_KEY_VLEK: "vlek",
    SIGNING_KEY_NONE: "none",
}
TURIN_FAMILY: Final = 0x1A
_COMPONENT_BYTES: Final = 72
_POLICY_RESERVED_ONE: Final = 1 << 17
_POLICY_KNOWN_BITS: Final = (1 << 26) - 1
_POLICY_FLAGS: Final = (
    ("smt", 16),
    ("migrate_ma", 18),
    ("debug", 19),
    ("single_socket", 20),
    ("cxl_allow", 21),
    ("mem_aes_256_xts", 22),
    ("rapl_dis", 23),
    ("ciphertext_hiding", 24),
    ("page_swap_disable", 25),
)


def _fail(message: str) -> VerificationError:
    return VerificationError(
        f"malformed SEV-SNP attestation report: {message}",
        hint="Collect the report again from /sys/kernel/config/tsm/report (outblob, 1184 bytes).",
    )


@dataclass(frozen=True)
class TcbVersion:
    """A TCB version: the security patch levels of the platform's firmware components.

    Parameters
    ----------
    bootloader, tee, snp, microcode
        The security patch levels (0 to 255) of the PSP boot loader, the PSP operating
        system (TEE), the SNP firmware and the CPU microcode.
    """

    bootloader: int
    tee: int
    snp: int
    microcode: int

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> TcbVersion:
        """Read the 8-byte Milan/Genoa encoding, refusing non-zero reserved bytes."""
        if len(data) != 8:
            raise _fail(f"{name} must be 8 bytes, got {len(data)}")
        if any(data[2:6]):
            raise _fail(f"{name} has non-zero reserved bytes 2-5 ({data.hex()})")
        return cls(bootloader=data[0], tee=data[1], snp=data[6], microcode=data[7])

    def describe(self) -> str:
        """Return ``"bootloader 2, TEE 0, SNP 5, microcode 68"`` for messages."""
        return (
            f"bootloader {self.bootloader}, TEE {self.tee}, SNP {self.snp}, "
            f"microcode {self.microcode}"
        )

    def extras(self, prefix: str) -> dict[str, str]:
        """Return the levels as claim extras named ``<prefix>_bootloader`` and so on."""
        return {
            f"{prefix}_bootloader": str(self.bootloader),
            f"{prefix}_tee": str(self.tee),
            f"{prefix}_snp": str(self.snp),
            f"{prefix}_microcode": str(self.microcode),
        }


@dataclass(frozen=True)
class GuestPolicy:
    """The guest policy the VM owner set at launch (report offset ``008``).

    Parameters
    ----------
    raw
        The 64-bit policy value.
    """

    raw: int

    @property
    def abi_minor(self) -> int:
        """The minimum firmware ABI minor version (bits 0-7)."""
        return self.raw & 0xFF

    @property
    def abi_major(self) -> int:
        """The minimum firmware ABI major version (bits 8-15)."""
        return (self.raw >> 8) & 0xFF

    @property
    def debug(self) -> bool:
        """Bit 19: the host may debug the guest, i.e. read and change its memory."""
        return self.flag("debug")

    def flag(self, name: str) -> bool:
        """Return the policy bit called ``name`` (``"smt"``, ``"debug"``, ``"migrate_ma"``...)."""
        for flag_name, bit in _POLICY_FLAGS:
            if flag_name == name:
                return bool(self.raw >> bit & 1)
        raise KeyError(name)

    def extras(self) -> dict[str, str]:
        """Return the policy as claim extras: ``policy`` (hex) and one ``policy_<bit>`` each."""
        values = {"policy": f"{self.raw:#018x}", "policy_abi": f"{self.abi_major}.{self.abi_minor}"}
        for name, bit in _POLICY_FLAGS:
            values[f"policy_{name}"] = "true" if self.raw >> bit & 1 else "false"
        return values


@dataclass(frozen=True)
class SnpReport:
    """An SEV-SNP attestation report as parsed: **unverified** until its signature is checked.

    The fields are those of the layout in the module docstring, by the same names in lower
    case; ``current_firmware`` and ``committed_firmware`` are ``(major, minor, build)``;
    ``cpuid`` is ``(family, model, stepping)`` or ``None`` before version 3; the mitigation
    vectors are ``None`` before version 5; ``signature_r`` and ``signature_s`` are integers.
    """

    raw: bytes = field(repr=False)
    version: int
    guest_svn: int
    policy: GuestPolicy
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb: TcbVersion
    platform_info: int
    author_key_en: bool
    mask_chip_key: bool
    signing_key: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    report_id_ma: bytes
    reported_tcb: TcbVersion
    cpuid: tuple[int, int, int] | None
    chip_id: bytes
    committed_tcb: TcbVersion
    current_firmware: tuple[int, int, int]
    committed_firmware: tuple[int, int, int]
    launch_tcb: TcbVersion
    launch_mit_vector: int | None
    current_mit_vector: int | None
    signature_r: int
    signature_s: int

    @property
    def signed_bytes(self) -> bytes:
        """The bytes the signature covers: offsets ``000`` to ``29F``."""
        return self.raw[:SIGNED_LENGTH]

    @property
    def signer_digest(self) -> bytes | None:
        """The code signer's key digest: the author key when enabled, else the ID key.

        ``None`` when the VM was launched without an ID block (both digests are zero).
        """
        if self.author_key_en and any(self.author_key_digest):
            return self.author_key_digest
        if any(self.id_key_digest):
            return self.id_key_digest
        return None

    def extras(self) -> Mapping[str, str]:
        """Return every field the claims do not carry elsewhere, as text, for policies."""
        values: dict[str, str] = {
            "report_version": str(self.version),
            "guest_svn": str(self.guest_svn),
            "vmpl": str(self.vmpl),
            "signing_key": SIGNING_KEY_NAMES.get(self.signing_key, str(self.signing_key)),
            "author_key_en": "true" if self.author_key_en else "false",
            "mask_chip_key": "true" if self.mask_chip_key else "false",
            "platform_info": f"{self.platform_info:#018x}",
            "family_id": self.family_id.hex(),
            "image_id": self.image_id.hex(),
            "host_data": self.host_data.hex(),
            "id_key_digest": self.id_key_digest.hex(),
            "author_key_digest": self.author_key_digest.hex(),
            "report_id": self.report_id.hex(),
            "report_id_ma": self.report_id_ma.hex(),
            "chip_id": self.chip_id.hex(),
            "current_firmware": "{}.{}.{}".format(*self.current_firmware),
            "committed_firmware": "{}.{}.{}".format(*self.committed_firmware),
        }
        values.update(self.policy.extras())
        for prefix, tcb in (
            ("current_tcb", self.current_tcb),
            ("reported_tcb", self.reported_tcb),
            ("committed_tcb", self.committed_tcb),
            ("launch_tcb", self.launch_tcb),
        ):
            values.update(tcb.extras(prefix))
        if self.cpuid is not None:
            family, model, stepping = self.cpuid
            values["cpuid"] = f"family {family:#04x}, model {model:#04x}, stepping {stepping}"
        if self.launch_mit_vector is not None and self.current_mit_vector is not None:
            values["launch_mit_vector"] = f"{self.launch_mit_vector:#018x}"
            values["current_mit_vector"] = f"{self.current_mit_vector:#018x}"
        return values


def _u32(raw: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", raw, offset)[0]
    return value


def _u64(raw: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<Q", raw, offset)[0]
    return value


def _zero(raw: bytes, start: int, end: int, name: str) -> None:
    if any(raw[start:end]):
        raise _fail(f"reserved bytes {start:#05x}..{end - 1:#05x} ({name}) must be zero")


def _firmware(raw: bytes, offset: int) -> tuple[int, int, int]:
    build, minor, major = raw[offset], raw[offset + 1], raw[offset + 2]
    return major, minor, build


def _check_header(raw: bytes) -> int:
    if not isinstance(raw, bytes):
        raise _fail(f"expected bytes, got {type(raw).__name__}")
    if len(raw) != REPORT_SIZE:
        raise _fail(f"it is {len(raw)} bytes; a report is exactly {REPORT_SIZE} bytes")
    version = _u32(raw, 0x000)
    if version not in SUPPORTED_VERSIONS:
        raise _fail(
            f"report version {version} is not supported (this release reads versions "
            f"{SUPPORTED_VERSIONS.start} to {SUPPORTED_VERSIONS.stop - 1})"
        )
    algo = _u32(raw, 0x034)
    if algo != ECDSA_P384_SHA384:
        raise _fail(f"signature algorithm {algo} is not 1 (ECDSA P-384 with SHA-384)")
    return version


def _check_reserved(raw: bytes, version: int) -> None:
    _zero(raw, 0x04C, 0x050, "after the signer info")
    _zero(raw, 0x18B if version >= 3 else 0x188, 0x1A0, "after the reported TCB")
    _zero(raw, 0x1EB, 0x1EC, "after the current firmware version")
    _zero(raw, 0x1EF, 0x1F0, "after the committed firmware version")
    _zero(raw, 0x208 if version >= 5 else 0x1F8, SIGNED_LENGTH, "before the signature")
    _zero(raw, SIGNED_LENGTH + 2 * _COMPONENT_BYTES, REPORT_SIZE, "after the signature")


def _policy(raw: bytes) -> GuestPolicy:
    value = _u64(raw, 0x008)
    if not value & _POLICY_RESERVED_ONE:
        raise _fail(f"guest policy {value:#x} has reserved bit 17 clear; it must be 1")
    if value & ~_POLICY_KNOWN_BITS:
        raise _fail(f"guest policy {value:#x} sets bits above 25, which this release cannot judge")
    return GuestPolicy(value)


def _signer_info(raw: bytes) -> tuple[bool, bool, int]:
    info = _u32(raw, 0x048)
    if info >> 5:
        raise _fail(f"signer info {info:#x} sets reserved bits 5-31")
    signing_key = (info >> 2) & 7
    if signing_key not in SIGNING_KEY_NAMES:
        raise _fail(f"signing key value {signing_key} is reserved")
    return bool(info & 1), bool(info & 2), signing_key


def parse_unverified_snp_report(raw: bytes) -> SnpReport:
    """Parse ``raw`` strictly as an SEV-SNP attestation report, without checking its signature.

    Parameters
    ----------
    raw
        Exactly 1184 bytes, as the AMD secure processor produced them (configfs-tsm ``outblob``).

    Returns
    -------
    SnpReport
        The parsed, **unverified** report.

    Raises
    ------
    VerificationError
        If the size, version, signature algorithm, a reserved field, the guest policy or the
        signer info is not as the specification requires, or the report comes from a product
        whose TCB layout this release does not read (Turin); the message names the field.
    """
    version = _check_header(raw)
    _check_reserved(raw, version)
    cpuid: tuple[int, int, int] | None = None
    if version >= 3:
        cpuid = (raw[0x188], raw[0x189], raw[0x18A])
        if cpuid[0] == TURIN_FAMILY:
            raise _fail(
                "it comes from an AMD family 1Ah (Turin) processor, whose TCB layout this "
                "release does not read"
            )
    author_key_en, mask_chip_key, signing_key = _signer_info(raw)
    mitigations = version >= 5
    return SnpReport(
        raw=bytes(raw),
        version=version,
        guest_svn=_u32(raw, 0x004),
        policy=_policy(raw),
        family_id=raw[0x010:0x020],
        image_id=raw[0x020:0x030],
        vmpl=_u32(raw, 0x030),
        signature_algo=ECDSA_P384_SHA384,
        current_tcb=TcbVersion.from_bytes(raw[0x038:0x040], "CURRENT_TCB"),
        platform_info=_u64(raw, 0x040),
        author_key_en=author_key_en,
        mask_chip_key=mask_chip_key,
        signing_key=signing_key,
        report_data=raw[0x050:0x090],
        measurement=raw[0x090:0x0C0],
        host_data=raw[0x0C0:0x0E0],
        id_key_digest=raw[0x0E0:0x110],
        author_key_digest=raw[0x110:0x140],
        report_id=raw[0x140:0x160],
        report_id_ma=raw[0x160:0x180],
        reported_tcb=TcbVersion.from_bytes(raw[0x180:0x188], "REPORTED_TCB"),
        cpuid=cpuid,
        chip_id=raw[0x1A0:0x1E0],
        committed_tcb=TcbVersion.from_bytes(raw[0x1E0:0x1E8], "COMMITTED_TCB"),
        current_firmware=_firmware(raw, 0x1E8),
        committed_firmware=_firmware(raw, 0x1EC),
        launch_tcb=TcbVersion.from_bytes(raw[0x1F0:0x1F8], "LAUNCH_TCB"),
        launch_mit_vector=_u64(raw, 0x1F8) if mitigations else None,
        current_mit_vector=_u64(raw, 0x200) if mitigations else None,
        signature_r=int.from_bytes(raw[0x2A0 : 0x2A0 + _COMPONENT_BYTES], "little"),
        signature_s=int.from_bytes(raw[0x2E8 : 0x2E8 + _COMPONENT_BYTES], "little"),
    )
