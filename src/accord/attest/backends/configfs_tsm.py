r"""Collect TDX and SEV-SNP reports through Linux configfs-tsm (``/sys/kernel/config/tsm/report``).

The kernel interface (Linux 6.7+, ``Documentation/ABI/testing/configfs-tsm``) is a directory
per request. For each quote this collector:

1. creates a fresh entry ``/sys/kernel/config/tsm/report/accord-<random>``; the kernel fills
   it with attribute files;
2. reads ``provider`` and refuses the entry unless it names the expected guest driver
   (``tdx_guest`` for TDX, ``sev_guest`` for SEV-SNP);
3. writes the 64 bytes of report data to ``inblob``;
4. reads ``generation``, then ``outblob`` (the quote or report) and ``auxblob`` when present
   (for SEV-SNP, the certificate table), then ``generation`` again; if it changed, another
   writer raced this request and the outblob may not carry our report data, so it fails;
5. removes the entry, whatever happened.

**Saved captures.** :class:`ConfigfsTsmCapture` reads a report entry saved as one JSON
object (as attestation tools and test suites exchange them)::

    {"provider": "sev_guest\n", "outblob": base64, "auxblob": base64,
     "inblob": base64, "generation": int}

``provider`` and ``outblob`` are required, the others optional; blobs are standard base64
with padding or URL-safe base64 without padding. Unknown or duplicate members are refused.
:meth:`ConfigfsTsmCapture.to_evidence` turns a capture into (unverified) evidence.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Final

from accord.attest._fields import Clock, check_int, load_json_object, utc_now
from accord.attest.backends._hardware import (
    MAX_BLOB_BYTES,
    check_report_data,
    device_failure,
    hardware_evidence,
)
from accord.attest.backends.device_files import DeviceFiles, SystemFiles
from accord.attest.claims import HARDWARE_BACKENDS
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser
from accord.errors import ConfigurationError, UsageError, VerificationError

__all__ = ["PROVIDER_BACKENDS", "TSM_REPORT_DIR", "ConfigfsTsmCapture", "ConfigfsTsmQuoter"]

logger: Final = logging.getLogger("accord.attest")

TSM_REPORT_DIR: Final = PurePosixPath("/sys/kernel/config/tsm/report")
PROVIDER_BACKENDS: Final = {"sev_guest": "sev-snp", "tdx_guest": "tdx"}
MAX_CAPTURE_BYTES: Final = 4 * MAX_BLOB_BYTES
_CAPTURE_REQUIRED: Final = frozenset({"provider", "outblob"})
_CAPTURE_OPTIONAL: Final = frozenset({"auxblob", "inblob", "generation"})
_STANDARD_BASE64: Final = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
)
_URLSAFE_BASE64: Final = re.compile(r"[A-Za-z0-9_-]*")
_HINT: Final = (
    "Run inside a confidential VM on Linux 6.7 or later with configfs mounted "
    "(mount -t configfs none /sys/kernel/config) and the guest driver loaded, "
    "or use the simulated backend for development."
)


def _random_entry_name() -> str:
    return f"accord-{secrets.token_hex(8)}"


class ConfigfsTsmQuoter:
    """Collects one backend's reports through configfs-tsm (see the module docstring).

    Parameters
    ----------
    backend
        ``"tdx"`` or ``"sev-snp"``.
    provider
        The ``provider`` text the kernel must report (``"tdx_guest"`` or ``"sev_guest"``).
    files
        The file system to use; defaults to the real one rooted at ``/``.
    parser
        Optional reader that fills the evidence's descriptive fields from the report.
    now
        The clock that stamps the (unauthenticated) collection time.
    entry_name
        Returns a fresh entry name (random by default).
    """

    def __init__(
        self,
        *,
        backend: str,
        provider: str,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
        entry_name: Callable[[], str] = _random_entry_name,
    ) -> None:
        if backend not in HARDWARE_BACKENDS or backend == "sgx-dcap":
            raise UsageError(f"configfs-tsm collects tdx or sev-snp reports, not {backend!r}")
        self._backend = backend
        self._provider = provider
        self._files: DeviceFiles = files if files is not None else SystemFiles()
        self._parser = parser
        self._now = now
        self._entry_name = entry_name

    @property
    def backend(self) -> str:
        """The backend name of the evidence this quoter produces."""
        return self._backend

    def quote(self, report_data: bytes) -> Evidence:
        """Return evidence holding a report that binds ``report_data`` (64 bytes).

        Raises
        ------
        ConfigurationError
            If configfs-tsm is missing, the provider is wrong, or a file operation fails.
        VerificationError
            If the entry's generation changed while it was read (a concurrent writer), or
            the platform returned an empty report.
        """
        check_report_data(report_data)
        files = self._files
        if not files.exists(TSM_REPORT_DIR):
            raise ConfigurationError(
                f"{TSM_REPORT_DIR} is not available: configfs-tsm is missing, so this machine "
                f"cannot produce {self._backend} reports",
                hint=_HINT,
            )
        entry = TSM_REPORT_DIR / self._entry_name()
        try:
            files.make_directory(entry)
        except OSError as exc:
            raise device_failure("create the report entry", entry, exc, hint=_HINT) from exc
        try:
            outblob, auxblob = self._collect(entry, report_data)
            issued_at = self._now()
        finally:
            try:
                files.remove_directory(entry)
            except OSError as exc:
                logger.warning("could not remove configfs-tsm entry %s: %s", entry, exc)
        return hardware_evidence(
            backend=self._backend,
            raw=outblob,
            aux=auxblob,
            report_data=report_data,
            issued_at=issued_at,
            parser=self._parser,
        )

    def _collect(self, entry: PurePosixPath, report_data: bytes) -> tuple[bytes, bytes]:
        provider = self._read(entry / "provider", limit=256).decode("ascii", "replace").strip()
        if provider != self._provider:
            raise ConfigurationError(
                f"the configfs-tsm provider is {provider!r}, but {self._backend} evidence needs "
                f"{self._provider!r}: this is not the kind of confidential VM expected",
                hint=f"Choose the backend that matches this machine's TEE ({provider!r}).",
            )
        try:
            self._files.write(entry / "inblob", report_data)
        except OSError as exc:
            raise device_failure("write", entry / "inblob", exc, hint=_HINT) from exc
        before = self._generation(entry)
        outblob = self._read(entry / "outblob", limit=MAX_BLOB_BYTES)
        auxblob = b""
        if self._files.exists(entry / "auxblob"):
            auxblob = self._read(entry / "auxblob", limit=MAX_BLOB_BYTES)
        after = self._generation(entry)
        if before != after:
            raise VerificationError(
                f"configfs-tsm entry {entry} changed while it was read (generation {before} "
                f"became {after}): another writer raced this request, so the report may not "
                "carry this enclave's report data",
                hint="Collect the evidence again; find what else writes to configfs-tsm.",
            )
        return outblob, auxblob

    def _generation(self, entry: PurePosixPath) -> int:
        text = self._read(entry / "generation", limit=32).decode("ascii", "replace").strip()
        if not text.isdigit():
            raise ConfigurationError(
                f"{entry / 'generation'} holds {text!r}, not a number", hint=_HINT
            )
        return int(text)

    def _read(self, path: PurePosixPath, *, limit: int) -> bytes:
        try:
            return self._files.read(path, limit=limit)
        except OSError as exc:
            raise device_failure("read", path, exc, hint=_HINT) from exc


def _capture_error(message: str) -> VerificationError:
    return VerificationError(
        f"malformed configfs-tsm capture: {message}",
        hint='Save the report entry as {"provider": ..., "outblob": base64, "auxblob": base64}.',
    )


def _decode_blob(value: object, name: str) -> bytes:
    """Decode standard padded or URL-safe unpadded base64, refusing other spellings."""
    if not isinstance(value, str):
        raise _capture_error(f"{name!r} must be a base64 string, got {type(value).__name__}")
    if _STANDARD_BASE64.fullmatch(value):
        raw = base64.b64decode(value, validate=True)
        canonical = base64.b64encode(raw).decode("ascii")
    elif _URLSAFE_BASE64.fullmatch(value) and len(value) % 4 != 1:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise _capture_error(f"{name!r} is not valid base64") from None
        canonical = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    else:
        raise _capture_error(f"{name!r} is not valid base64")
    if canonical != value:
        raise _capture_error(f"{name!r} is not canonical base64")
    if len(raw) > MAX_BLOB_BYTES:
        raise _capture_error(f"{name!r} holds {len(raw)} bytes, more than {MAX_BLOB_BYTES}")
    return raw


@dataclass(frozen=True)
class ConfigfsTsmCapture:
    """A configfs-tsm report entry saved as JSON (see the module docstring): **unverified**.

    Parameters
    ----------
    provider
        The entry's provider without its line break (``"sev_guest"``, ``"tdx_guest"``).
    outblob
        The report or quote.
    auxblob
        The auxiliary blob (SEV-SNP: the certificate table), empty when absent.
    inblob
        The report data that was written, or ``None`` when the capture omits it.
    generation
        The entry's generation counter, or ``None`` when the capture omits it.
    """

    provider: str
    outblob: bytes = field(repr=False)
    auxblob: bytes = field(default=b"", repr=False)
    inblob: bytes | None = field(default=None, repr=False)
    generation: int | None = None

    @property
    def backend(self) -> str:
        """The Accord backend of this provider's reports (``"sev-snp"`` or ``"tdx"``)."""
        return PROVIDER_BACKENDS[self.provider]

    @classmethod
    def from_json(cls, data: bytes) -> ConfigfsTsmCapture:
        """Parse a saved capture strictly.

        Parameters
        ----------
        data
            The UTF-8 JSON object.

        Returns
        -------
        ConfigfsTsmCapture
            The capture, unverified.

        Raises
        ------
        VerificationError
            If the JSON, a member, a blob or the provider is not as described; the message
            names the member.
        """
        obj = load_json_object(
            data, "the configfs-tsm capture", max_len=MAX_CAPTURE_BYTES, error=VerificationError
        )
        missing = sorted(_CAPTURE_REQUIRED - obj.keys())
        if missing:
            raise _capture_error(f"it lacks member {missing[0]!r}")
        unknown = sorted(obj.keys() - _CAPTURE_REQUIRED - _CAPTURE_OPTIONAL)
        if unknown:
            raise _capture_error(f"it has unknown member {unknown[0]!r}")
        provider = obj["provider"]
        if not isinstance(provider, str) or provider.removesuffix("\n") not in PROVIDER_BACKENDS:
            raise _capture_error(
                f"provider {str(provider)[:40]!r} is not one of {', '.join(PROVIDER_BACKENDS)}"
            )
        generation = obj.get("generation")
        if generation is not None:
            generation = check_int(generation, "generation", error=VerificationError)
        outblob = _decode_blob(obj["outblob"], "outblob")
        if not outblob:
            raise _capture_error("'outblob' is empty")
        inblob = obj.get("inblob")
        return cls(
            provider=provider.removesuffix("\n"),
            outblob=outblob,
            auxblob=_decode_blob(obj.get("auxblob", ""), "auxblob"),
            inblob=None if inblob is None else _decode_blob(inblob, "inblob"),
            generation=generation,
        )

    def to_evidence(self, *, parser: ReportParser, issued_at: datetime) -> Evidence:
        """Return the capture as **unverified** evidence, described by ``parser``.

        Parameters
        ----------
        parser
            The backend's report parser (e.g. ``SevSnpReportParser()``); it reads the report
            data and the descriptive fields from ``outblob``.
        issued_at
            The collection time to record (unauthenticated).

        Raises
        ------
        VerificationError
            If the report is malformed, the parser reads another backend, or ``inblob``
            differs from the report data the report carries.
        """
        claims = parser.parse_unverified(self.outblob, aux=self.auxblob)
        if claims.backend != self.backend:
            raise _capture_error(
                f"provider {self.provider!r} produces {self.backend} reports, but the parser "
                f"read a {claims.backend} report"
            )
        if self.inblob is not None and not hmac.compare_digest(self.inblob, claims.report_data):
            raise _capture_error(
                "'inblob' is not the report data the report carries: the capture mixes the "
                "request of one report with another report"
            )
        return Evidence(
            backend=self.backend,
            measurement=claims.measurement,
            signer=claims.signer,
            security_version=claims.security_version,
            debug=claims.debug,
            report_data=claims.report_data,
            raw=self.outblob,
            aux=self.auxblob,
            issued_at=issued_at,
        )
