"""``accord measure`` and ``accord attest verify``: measure enclave code, verify evidence offline.

The runtime adds ``accord attest nodes`` (attest a collaboration's live nodes) to the same
group; see :mod:`accord.cli.runtime`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape
from rich.table import Table

from accord.agreement import load_signed_agreement
from accord.agreement.attestation import attestation_policy
from accord.attest._fields import format_time
from accord.attest.backends.dcap import DcapCollateral
from accord.attest.evidence import MAX_EVIDENCE_BYTES
from accord.attest.measurement import (
    LISTING_HEADER,
    CodeMeasurement,
    measure_installed_package,
    measure_tree,
)
from accord.attest.offline import OfflineVerification, resolve_kind, verify_offline
from accord.cli.common import make_console
from accord.errors import ConfigurationError, UsageError

__all__ = ["app", "measure", "register", "verify"]

app = typer.Typer(
    help="Verify attestation evidence of SGX, TDX and SEV-SNP enclaves offline.",
    no_args_is_help=True,
)

VERIFY_FORMAT: Final = "accord-attest-verify/v1"
_MAX_AUX_BYTES: Final = 256 * 1024


def measure(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="Measure this package directory (e.g. an unpacked release's accord/) "
            "instead of the installed accord package.",
            file_okay=False,
        ),
    ] = None,
    listing: Annotated[
        bool,
        typer.Option(
            "--listing",
            help="Print the canonical listing (the exact bytes whose SHA-256 is the measurement).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON object instead of text.")
    ] = False,
) -> None:
    """Print the measurement that simulated evidence of this code carries.

    The measurement is the SHA-256 of a canonical listing of every file of the code tree
    (see docs/attestation.md). Publish it so that parties can pin it in the agreement.
    """
    result = measure_installed_package() if root is None else measure_tree(root)
    if as_json:
        typer.echo(json.dumps(_as_json(result, with_files=listing), indent=2, sort_keys=True))
    elif listing:
        typer.echo(result.listing(), nl=False)
    else:
        typer.echo(result.digest)
        typer.echo(f"measured {len(result.files)} files under {result.root}", err=True)


def _as_json(result: CodeMeasurement, *, with_files: bool) -> dict[str, object]:
    document: dict[str, object] = {
        "format": LISTING_HEADER.decode().strip(),
        "measurement": result.digest,
        "root": str(result.root),
        "file_count": len(result.files),
    }
    if with_files:
        document["files"] = [{"path": item.path, "sha256": item.sha256} for item in result.files]
    return document


def _read(path: Path, *, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path} is larger than {limit} bytes")
    return data


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise UsageError(
            f"--at {value!r} must be a date and time with a time zone, e.g. 2025-07-01T00:00:00Z"
        )
    return moment.astimezone(UTC)


def verify(
    evidence: Annotated[
        Path,
        typer.Argument(
            metavar="EVIDENCE",
            help="A DCAP quote, an SEV-SNP report, an RA-TLS certificate, a saved "
            "configfs-tsm entry (JSON), or Accord evidence.",
            dir_okay=False,
        ),
    ],
    collateral: Annotated[
        Path | None,
        typer.Option(
            "--collateral",
            help="Intel collateral JSON for SGX/TDX (and RA-TLS); for SEV-SNP, the "
            "certificate table or chain the verifier needs.",
            dir_okay=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Judge certificates and collateral at this RFC 3339 time."),
    ] = None,
    agreement: Annotated[
        Path | None,
        typer.Option(
            "--agreement",
            help="Apply this signed agreement's enclave policy instead of the baseline one.",
            dir_okay=False,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="What EVIDENCE is: sgx-dcap, tdx, sev-snp or ra-tls (detected if omitted).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Verify EVIDENCE offline and print its authenticated claims, or fail naming the check.

    Checks authenticity (signatures, certificate chains to the pinned vendor roots,
    collateral validity at --at, TCB level) and the policy: the agreement's with
    --agreement, otherwise the baseline (hardware evidence only; no debug enclave; SGX/TDX
    TCB status at least ConfigurationAndSWHardeningNeeded; SEV-SNP at VMPL 0). Freshness
    and session binding need the nonce and are checked when a party attests a live
    enclave, not here. Nothing is fetched online.
    """
    data = _read(evidence, limit=MAX_EVIDENCE_BYTES, what="evidence file")
    when = _parse_at(at)
    kind, needs = resolve_kind(data, backend)
    dcap_collateral: DcapCollateral | None = None
    aux = b""
    if collateral is not None and needs in ("sgx-dcap", "tdx"):
        dcap_collateral = DcapCollateral.from_file(collateral)
    elif collateral is not None:
        aux = _read(collateral, limit=_MAX_AUX_BYTES, what="collateral file")
    policy, policy_name = None, ""
    if agreement is not None:
        signed = load_signed_agreement(agreement)
        policy = attestation_policy(signed.enclave)
        policy_name = f"agreement {signed.name!r} ({signed.digest[:16]}..)"
    result = verify_offline(
        data,
        at=when,
        kind=kind,
        collateral=dcap_collateral,
        aux=aux,
        policy=policy,
        policy_name=policy_name,
    )
    if as_json:
        typer.echo(json.dumps(result_document(result), indent=2, sort_keys=True))
    else:
        _print_table(result)


def result_document(result: OfflineVerification) -> dict[str, Any]:
    """Return the JSON object ``accord attest verify --json`` prints for ``result``."""
    claims = result.claims
    return {
        "format": VERIFY_FORMAT,
        "evidence_kind": result.kind,
        "backend": claims.backend,
        "measurement": claims.measurement,
        "signer": claims.signer,
        "security_version": claims.security_version,
        "debug": claims.debug,
        "tcb_status": claims.tcb_status,
        "advisory_ids": list(claims.advisory_ids),
        "report_data": claims.report_data.hex(),
        "extras": dict(sorted(claims.extras.items())),
        "verified_at": format_time(result.verified_at),
        "accepted_by": result.policy,
    }


def _print_table(result: OfflineVerification) -> None:
    claims = result.claims
    console = make_console()
    table = Table(title=f"Verified {escape(claims.backend)} evidence", show_header=False)
    table.add_column("claim", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("evidence", result.kind),
        ("backend", claims.backend),
        ("measurement", claims.measurement),
        ("signer", claims.signer or "-"),
        ("security version", str(claims.security_version)),
        ("debug", "yes" if claims.debug else "no"),
        ("TCB status", claims.tcb_status or "-"),
        ("advisories", ", ".join(claims.advisory_ids) or "none"),
        ("report data", claims.report_data.hex()),
        *((name, value) for name, value in sorted(claims.extras.items())),
        ("verified at", format_time(result.verified_at)),
        ("accepted by", result.policy),
    ]
    for name, value in rows:
        table.add_row(escape(name), escape(value))
    console.print(table)
    if claims.advisory_ids:
        console.print(
            f"[yellow]The platform is affected by {escape(', '.join(claims.advisory_ids))}: "
            "read them before trusting it.[/]"
        )


app.command("verify")(verify)


def register(root: typer.Typer) -> None:
    """Add ``measure`` and the ``attest`` group to the root app."""
    root.command("measure")(measure)
    root.add_typer(app, name="attest")
