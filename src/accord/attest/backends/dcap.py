"""Offline verification of Intel SGX and TDX DCAP quotes against the pinned Intel SGX Root CA.

The cryptographic checks are done by `dcap-qvl <https://pypi.org/project/dcap-qvl/>`_, a
maintained implementation of Intel's quote verification; this module pins its trust anchor,
reads and bounds the collateral, names the check that failed, and refuses early (with a clear
message) what cannot pass. :func:`verify_dcap_quote` checks, in order:

1. **quote format**: a version 3, 4 or 5 quote of the expected TEE (SGX or TDX);
2. **collateral platform**: the collateral's TCB info is for this TEE and this platform
   (its FMSPC equals the one in the quote's PCK certificate);
3. **collateral validity**: the time lies inside the collateral's window, from the latest
   ``issueDate`` / CRL ``thisUpdate`` to the earliest ``nextUpdate``;
4. with dcap-qvl: the **certificate chains** of the PCK certificate (in the quote), the TCB
   info and the QE identity lead to the pinned root and are not revoked (root CA CRL, PCK
   CRL); the **TCB info signature** and **QE identity signature**; the **QE report
   signature** (by the PCK key); the **QE report binding** of the attestation key; the
   **quote signature** over header and report body; the **QE identity** (the quoting
   enclave is Intel's, at an accepted SVN); the **TCB level** of the platform, giving its
   status and advisory ids.

**Collateral.** Intel signs it, so whoever relays it (the host, a cache) cannot forge it: it is
the *collateral JSON* that dcap-qvl and the test vectors use, an object with the members
``pck_crl_issuer_chain``, ``root_ca_crl`` (hex DER), ``pck_crl`` (hex DER),
``tcb_info_issuer_chain``, ``tcb_info`` (Intel's signed JSON text), ``tcb_info_signature``
(hex), ``qe_identity_issuer_chain``, ``qe_identity``, ``qe_identity_signature`` and optionally
``pck_certificate_chain`` (PEM). Obtain it from Intel PCS or a PCCS for the quote's FMSPC; this
module never fetches anything.

**TCB evaluation data number.** Intel numbers each release of its TCB judgements (the
``tcbEvaluationDataNumber`` of the TCB info and of the QE identity) and raises the number
when it re-evaluates platforms after a security advisory. Older collateral stays validly
signed until its ``nextUpdate``, so a host could keep serving the collateral from before an
advisory. A verified quote reports both numbers (read from the signed JSON that dcap-qvl
checks), and an agreement's ``min_tcb_evaluation_data_number`` refuses collateral older
than the release it names (:class:`~accord.attest.hardware_policy.TcbEvaluationAtLeast`).

**Trust anchor.** Only the Intel SGX Root CA shipped with Accord
(``accord/attest/trust/intel_sgx_root_ca.pem``,
SHA-256 of its DER :data:`INTEL_SGX_ROOT_CA_SHA256`, checked when loaded) is trusted; a root
certificate that arrives with the collateral or the quote is never used as an anchor.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import dcap_qvl
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from accord.attest._fields import format_time, load_json_object
from accord.attest.backends.dcap_quote import QuoteBody, parse_quote_body
from accord.errors import ConfigurationError, IntegrityError, VerificationError

__all__ = [
    "INTEL_SGX_ROOT_CA_SHA256",
    "MAX_COLLATERAL_BYTES",
    "DcapCollateral",
    "VerifiedQuote",
    "intel_sgx_root_ca",
    "resolve_collateral",
    "verify_dcap_quote",
]

INTEL_SGX_ROOT_CA_SHA256: Final = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
"""SHA-256 of the DER encoding of the Intel SGX Root CA certificate: the pinned trust anchor."""
MAX_COLLATERAL_BYTES: Final = 256 * 1024
_ROOT_CA_FILE: Final = "intel_sgx_root_ca.pem"
_REQUIRED: Final = frozenset(
    {
        "pck_crl_issuer_chain",
        "root_ca_crl",
        "pck_crl",
        "tcb_info_issuer_chain",
        "tcb_info",
        "tcb_info_signature",
        "qe_identity_issuer_chain",
        "qe_identity",
        "qe_identity_signature",
    }
)
_OPTIONAL: Final = frozenset({"pck_certificate_chain"})
_COLLATERAL_HINT: Final = (
    "Fetch the collateral for this quote's platform (FMSPC) from Intel PCS or your PCCS, "
    "as the JSON described in docs/attestation.md."
)


@functools.cache
def intel_sgx_root_ca() -> bytes:
    """Return the DER of the Intel SGX Root CA shipped with Accord, after checking its pin.

    Raises
    ------
    IntegrityError
        If the packaged certificate is not the pinned one (the installation was altered).
    """
    pem = resources.files("accord.attest").joinpath("trust").joinpath(_ROOT_CA_FILE).read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    if not hmac.compare_digest(hashlib.sha256(der).hexdigest(), INTEL_SGX_ROOT_CA_SHA256):
        raise IntegrityError(
            f"the packaged {_ROOT_CA_FILE} is not the pinned Intel SGX Root CA "
            f"(SHA-256 {INTEL_SGX_ROOT_CA_SHA256[:16]}..): the installation was altered",
            hint="Reinstall Accord from a trusted source.",
        )
    return der


def _parse_time(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise VerificationError(f"collateral {what} is not a date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise VerificationError(f"collateral {what} {value[:40]!r} is not a date-time") from None
    if parsed.utcoffset() is None:
        raise VerificationError(f"collateral {what} {value[:40]!r} has no time zone")
    return parsed.astimezone(UTC)


def _signed_json(obj: dict[str, Any], key: str) -> dict[str, Any]:
    text = obj[key]
    if not isinstance(text, str):
        raise VerificationError(f"collateral member {key!r} must be Intel's JSON text")
    inner = load_json_object(
        text.encode("utf-8"),
        f"collateral {key}",
        max_len=MAX_COLLATERAL_BYTES,
        error=VerificationError,
    )
    return inner


def _evaluation_number(signed: dict[str, Any], key: str) -> int:
    value = signed.get("tcbEvaluationDataNumber")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise VerificationError(
            f"collateral {key} has no tcbEvaluationDataNumber (an integer from 0 to 2^32 - 1)"
        )
    return value


def _crl_window(obj: dict[str, Any], key: str) -> tuple[datetime, datetime]:
    value = obj[key]
    try:
        crl = x509.load_der_x509_crl(bytes.fromhex(value))
    except (TypeError, ValueError):
        raise VerificationError(f"collateral {key} is not a hex-encoded DER CRL") from None
    if crl.next_update_utc is None:
        raise VerificationError(f"collateral {key} has no nextUpdate, so it never expires")
    return crl.last_update_utc, crl.next_update_utc


@dataclass(frozen=True)
class DcapCollateral:
    """Intel's endorsements for one platform's quotes, read from the collateral JSON.

    Build it with :meth:`from_json` or :meth:`from_file`; reading checks the form only (the
    signatures are checked with each quote).

    Parameters
    ----------
    text
        The collateral JSON as given.
    tee
        ``"SGX"`` or ``"TDX"``: the ``id`` of its TCB info.
    fmspc
        The platform (family-model-stepping-platform-custom SKU) its TCB info is for, hex.
    valid_from
        The latest ``issueDate`` or CRL ``thisUpdate``.
    valid_until
        The earliest ``nextUpdate``.
    tcb_evaluation_data_number
        The ``tcbEvaluationDataNumber`` of its TCB info: which release of Intel's TCB
        judgements it is.
    qe_identity_tcb_evaluation_data_number
        The ``tcbEvaluationDataNumber`` of its QE identity.
    source
        Where it came from, for messages.
    """

    text: str = field(repr=False)
    tee: str
    fmspc: str
    valid_from: datetime
    valid_until: datetime
    tcb_evaluation_data_number: int
    qe_identity_tcb_evaluation_data_number: int
    source: str = "collateral"

    @classmethod
    def from_json(cls, data: bytes, *, source: str = "collateral") -> DcapCollateral:
        """Parse collateral JSON strictly.

        Raises
        ------
        VerificationError
            If it is not such JSON, lacks a member, or its window is empty.
        """
        try:
            obj = load_json_object(
                data, source, max_len=MAX_COLLATERAL_BYTES, error=VerificationError
            )
            missing = sorted(_REQUIRED - obj.keys())
            unknown = sorted(obj.keys() - _REQUIRED - _OPTIONAL)
            if missing or unknown:
                problem = f"lacks {missing[0]!r}" if missing else f"has unknown {unknown[0]!r}"
                raise VerificationError(f"the member list {problem}")
            tcb_info = _signed_json(obj, "tcb_info")
            qe_identity = _signed_json(obj, "qe_identity")
            tee = tcb_info.get("id", "SGX")
            fmspc = tcb_info.get("fmspc")
            if tee not in ("SGX", "TDX") or not isinstance(fmspc, str):
                raise VerificationError("its TCB info names no SGX or TDX platform (id, fmspc)")
            evaluation = _evaluation_number(tcb_info, "tcb_info")
            qe_evaluation = _evaluation_number(qe_identity, "qe_identity")
            starts = [
                _parse_time(tcb_info.get("issueDate"), "tcb_info issueDate"),
                _parse_time(qe_identity.get("issueDate"), "qe_identity issueDate"),
            ]
            ends = [
                _parse_time(tcb_info.get("nextUpdate"), "tcb_info nextUpdate"),
                _parse_time(qe_identity.get("nextUpdate"), "qe_identity nextUpdate"),
            ]
            for key in ("root_ca_crl", "pck_crl"):
                start, end = _crl_window(obj, key)
                starts.append(start)
                ends.append(end)
            text = data.decode("utf-8")
        except VerificationError as exc:
            raise VerificationError(
                f"{source} is not usable DCAP collateral: {exc.message}", hint=_COLLATERAL_HINT
            ) from None
        valid_from, valid_until = max(starts), min(ends)
        if valid_from > valid_until:
            raise VerificationError(
                f"{source} is never valid: issued {format_time(valid_from)} but expiring "
                f"{format_time(valid_until)} (its parts come from different fetches)",
                hint=_COLLATERAL_HINT,
            )
        return cls(
            text=text,
            tee=tee,
            fmspc=fmspc.lower(),
            valid_from=valid_from,
            valid_until=valid_until,
            tcb_evaluation_data_number=evaluation,
            qe_identity_tcb_evaluation_data_number=qe_evaluation,
            source=source,
        )

    @classmethod
    def from_file(cls, path: Path) -> DcapCollateral:
        """Read collateral JSON from ``path``.

        Raises
        ------
        ConfigurationError
            If the file cannot be read or is too large.
        VerificationError
            If its content is not collateral (see :meth:`from_json`).
        """
        try:
            with Path(path).open("rb") as handle:
                data = handle.read(MAX_COLLATERAL_BYTES + 1)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read collateral file {path}: {exc.strerror or exc}"
            ) from None
        return cls.from_json(data, source=f"collateral file {path}")


@dataclass(frozen=True)
class VerifiedQuote:
    """A DCAP quote that passed every check, with its platform's TCB judgement.

    Parameters
    ----------
    body
        The report fields of the authenticated quote.
    tcb_status
        The platform's TCB status (e.g. ``"UpToDate"``).
    advisory_ids
        Intel security advisories that apply to the platform.
    fmspc
        The platform's FMSPC (hex), from its PCK certificate.
    qe_tcb_status
        The quoting enclave's own TCB status.
    platform_tcb_status
        The status of the platform's TCB level alone.
    tcb_evaluation_data_number
        The ``tcbEvaluationDataNumber`` of the TCB info that judged the platform.
    qe_identity_tcb_evaluation_data_number
        The ``tcbEvaluationDataNumber`` of the QE identity that judged the quoting enclave.
    """

    body: QuoteBody
    tcb_status: str
    advisory_ids: tuple[str, ...]
    fmspc: str
    qe_tcb_status: str
    platform_tcb_status: str
    tcb_evaluation_data_number: int
    qe_identity_tcb_evaluation_data_number: int

    def extras(self) -> dict[str, str]:
        """Return what the collateral judged, as claim extras.

        ``fmspc``, ``qe_tcb_status``, ``platform_tcb_status``,
        ``tcb_evaluation_data_number`` and ``qe_identity_tcb_evaluation_data_number``.
        """
        return {
            "fmspc": self.fmspc,
            "qe_tcb_status": self.qe_tcb_status,
            "platform_tcb_status": self.platform_tcb_status,
            "tcb_evaluation_data_number": str(self.tcb_evaluation_data_number),
            "qe_identity_tcb_evaluation_data_number": str(
                self.qe_identity_tcb_evaluation_data_number
            ),
        }


# The first dcap-qvl message fragment that matches names the check that failed.
_CHECKS: Final = (
    ("ISV enclave report signature", "quote signature"),
    ("QE report hash mismatch", "QE report binding"),
    ("QE auth data", "QE report binding"),
    ("qe_report", "QE report signature"),
    ("tcb_info in quote_collateral", "TCB info signature"),
    ("qe_identity in quote_collateral", "QE identity signature"),
    ("CertRevoked", "certificate revocation"),
    ("CRL", "certificate revocation"),
    ("Crl", "certificate revocation"),
    ("revocation list", "certificate revocation"),
    ("certificate", "certificate chain"),
    ("Expired", "collateral validity"),
    ("expired", "collateral validity"),
    ("in the future", "collateral validity"),
    ("Fmspc", "collateral platform"),
    ("non-SGX TCB info", "collateral platform"),
    ("non-TDX TCB info", "collateral platform"),
    ("TDX module", "TDX module identity"),
    ("QE", "QE identity"),
    ("Debug mode", "QE identity"),
    ("TCB", "TCB level"),
    ("decode", "quote format"),
    ("Unsupported", "quote format"),
)


def resolve_collateral(explicit: DcapCollateral | None, aux: bytes, *, tee: str) -> DcapCollateral:
    """Return the collateral to judge a quote with: ``explicit`` if given, else the evidence's.

    Parameters
    ----------
    explicit
        Collateral the verifier was configured with; it takes precedence.
    aux
        The evidence's auxiliary data: collateral JSON supplied by the host, or empty.
    tee
        ``"SGX"`` or ``"TDX"``, for messages.

    Raises
    ------
    VerificationError
        If there is no collateral, or the evidence's is malformed.
    """
    if explicit is not None:
        return explicit
    if not aux:
        raise VerificationError(
            f"{tee} quote verification failed at the collateral check: no collateral was "
            "given and the evidence carries none, so the quote cannot be checked against "
            "Intel's endorsements",
            hint="Pass the collateral (--collateral FILE, or DcapCollateral to the verifier), "
            "or have the host attach it to the evidence. " + _COLLATERAL_HINT,
        )
    return DcapCollateral.from_json(aux, source="the collateral attached to the evidence")


def _failure(tee: str, detail: str) -> VerificationError:
    text = " ".join(detail.replace("Verification failed:", "").split())
    check = next((name for fragment, name in _CHECKS if fragment in text), "DCAP verification")
    hint = {
        "TCB level": (
            "The platform's TCB matches no level in Intel's TCB info: it is out of date, or "
            "its firmware update was not registered with Intel. Update the platform."
        ),
        "collateral validity": _COLLATERAL_HINT,
        "collateral platform": _COLLATERAL_HINT,
    }.get(check, "Do not trust this evidence: it or its collateral is not what Intel signed.")
    return VerificationError(
        f"{tee} quote verification failed at the {check} check: {text}", hint=hint
    )


def _check_collateral_fits(body: QuoteBody, quote_fmspc: str, collateral: DcapCollateral) -> None:
    if collateral.tee != body.tee:
        raise VerificationError(
            f"{body.tee} quote verification failed at the collateral platform check: "
            f"{collateral.source} is for {collateral.tee} platforms, not for this "
            f"{body.tee} quote",
            hint=_COLLATERAL_HINT,
        )
    if collateral.fmspc != quote_fmspc:
        raise VerificationError(
            f"{body.tee} quote verification failed at the collateral platform check: "
            f"{collateral.source} is for platform FMSPC {collateral.fmspc}, but the quote "
            f"comes from FMSPC {quote_fmspc}",
            hint=_COLLATERAL_HINT,
        )


def _check_window(tee: str, collateral: DcapCollateral, at: datetime) -> None:
    if not collateral.valid_from <= at <= collateral.valid_until:
        raise VerificationError(
            f"{tee} quote verification failed at the collateral validity check: "
            f"{collateral.source} is valid from {format_time(collateral.valid_from)} to "
            f"{format_time(collateral.valid_until)}, not at {format_time(at)}",
            hint=_COLLATERAL_HINT,
        )


def verify_dcap_quote(
    raw: bytes, *, tee: str, collateral: DcapCollateral, at: datetime
) -> VerifiedQuote:
    """Verify a DCAP quote offline, as the module docstring describes.

    Parameters
    ----------
    raw
        The quote exactly as the platform produced it.
    tee
        The expected TEE, ``"SGX"`` or ``"TDX"``.
    collateral
        Intel's endorsements for the quote's platform.
    at
        The time at which certificates, CRLs and collateral are judged (timezone-aware).

    Returns
    -------
    VerifiedQuote
        The authenticated report fields and the platform's TCB status and advisories.

    Raises
    ------
    VerificationError
        If any check fails; the message names the check (``"quote signature"``,
        ``"certificate chain"``, ``"TCB level"``, ...).
    """
    body = parse_quote_body(raw)
    if body.tee != tee:
        raise VerificationError(
            f"this is a{'n' if body.tee == 'SGX' else ''} {body.tee} quote, not {tee}: "
            "the evidence names the wrong backend"
        )
    try:
        parsed = dcap_qvl.parse_quote(raw)
    except (ValueError, RuntimeError) as exc:
        raise _failure(tee, f"Unsupported quote: {exc}") from None
    try:
        quote_fmspc = parsed.fmspc().lower()
    except (ValueError, RuntimeError) as exc:
        raise VerificationError(
            f"{tee} quote verification failed at the certificate chain check: the PCK "
            f"certificate in the quote cannot be read ({exc})",
            hint="Do not trust this evidence: its certificate chain was altered or is missing.",
        ) from None
    _check_collateral_fits(body, quote_fmspc, collateral)
    at = at.astimezone(UTC)
    _check_window(tee, collateral, at)
    try:
        report = dcap_qvl.verify_with_root_ca(
            raw,
            dcap_qvl.QuoteCollateralV3.from_json(collateral.text),
            intel_sgx_root_ca(),
            int(at.timestamp()),
        )
        result = json.loads(report.to_json())
    except (ValueError, RuntimeError) as exc:
        raise _failure(tee, str(exc)) from None
    return VerifiedQuote(
        body=body,
        tcb_status=str(result["status"]),
        advisory_ids=tuple(str(item) for item in result["advisory_ids"]),
        fmspc=quote_fmspc,
        qe_tcb_status=str(result.get("qe_status", {}).get("status", "")),
        platform_tcb_status=str(result.get("platform_status", {}).get("status", "")),
        tcb_evaluation_data_number=collateral.tcb_evaluation_data_number,
        qe_identity_tcb_evaluation_data_number=collateral.qe_identity_tcb_evaluation_data_number,
    )
