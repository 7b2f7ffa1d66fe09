"""``accord agreement``: create, fill in, sign, verify and show an agreement file."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accord.agreement import (
    OPERATIONS,
    Agreement,
    AgreementDocument,
    SignatureState,
    canonical_form,
    load_agreement,
    load_signed_agreement,
    party_from_card,
    render_template,
    sign_agreement,
    signature_states,
)
from accord.agreement.canonical import format_time
from accord.attest.claims import BACKENDS, SIMULATED
from accord.attest.measurement import measure_installed_package
from accord.cli.common import make_console, open_party
from accord.errors import KeyMaterialError, UsageError
from accord.party import PartyCard

__all__ = ["app"]

app = typer.Typer(
    help="Create, fill in, sign, verify and show the agreement that all parties sign.",
    no_args_is_help=True,
)

_File = Annotated[Path, typer.Argument(metavar="FILE", help="The agreement file (TOML).")]
_STATE_STYLE = {
    SignatureState.VALID: "green",
    SignatureState.MISSING: "yellow",
    SignatureState.INVALID: "bold red",
    SignatureState.NOT_A_PARTY: "bold red",
}


def _parse_measurements(values: list[str], allow_simulated: bool) -> dict[str, list[str]]:
    measurements: dict[str, list[str]] = {}
    for value in values:
        backend, separator, digest = value.partition("=")
        if not separator or backend not in BACKENDS:
            raise UsageError(
                f"--measurement {value!r} must look like BACKEND=HEX with BACKEND one of "
                f"{', '.join(BACKENDS)}"
            )
        measurements.setdefault(backend, []).append(digest)
    if SIMULATED in measurements and not allow_simulated:
        raise UsageError(
            "a simulated measurement was given without --allow-simulated",
            hint="Simulated evidence is accepted only when allowed explicitly: add "
            "--allow-simulated (development only).",
        )
    if allow_simulated and len(measurements) > (SIMULATED in measurements):
        raise UsageError(
            "--allow-simulated cannot be combined with hardware measurements: accepting "
            "simulated evidence removes every protection that hardware would give",
            hint="Make one agreement for development and another for production.",
        )
    if allow_simulated and SIMULATED not in measurements:
        measurements[SIMULATED] = [measure_installed_package().digest]
    if not measurements:
        raise UsageError(
            "the agreement must say which enclave code the parties accept",
            hint="Give --measurement sgx-dcap=HEX (or tdx=, sev-snp=) from the enclave release, "
            "or --allow-simulated for development on this machine.",
        )
    return measurements


@app.command()
def init(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The collaboration's name.")],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The file to create.")],
    allow_simulated: Annotated[
        bool,
        typer.Option(
            "--allow-simulated",
            help="Accept simulated evidence of the installed enclave code (development only: "
            "NO protection against the host).",
        ),
    ] = False,
    measurement: Annotated[
        list[str] | None,
        typer.Option(
            "--measurement",
            metavar="BACKEND=HEX",
            help="An accepted enclave measurement, e.g. sgx-dcap=<MRENCLAVE>; repeatable.",
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the collaboration is for.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a new, commented agreement with no parties yet."""
    measurements = _parse_measurements(measurement or [], allow_simulated)
    text = render_template(
        name,
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        measurements=measurements,
        description=description,
        file_name=str(out),
    )
    document = AgreementDocument.parse(text, source=str(out))
    document.save(out, overwrite=force)
    console = make_console()
    console.print(f"Created agreement {escape(str(out))} for [bold]{escape(name)}[/]")
    for backend, values in sorted(measurements.items()):
        for value in values:
            console.print(f"  accepts {backend} measurement {value.lower()}")
    _print_warnings(console, document.agreement)
    console.print(
        f"Next: accord agreement add-party {out} --card CARD.json (once per party)", markup=False
    )


@app.command("add-party")
def add_party(
    file: _File,
    card: Annotated[
        Path,
        typer.Option("--card", metavar="CARD", help="The party's card.json (or party directory)."),
    ],
    contact: Annotated[
        str | None, typer.Option("--contact", help="How to reach the party's operators.")
    ] = None,
) -> None:
    """Add a party from its card; existing signatures are removed (the content changes)."""
    document = AgreementDocument.load(file)
    party_card = PartyCard.load(card)
    updated = document.with_party(party_from_card(party_card, contact=contact))
    updated.save(file)
    console = make_console()
    console.print(f"Added party [bold]{party_card.name}[/] to {escape(str(file))}")
    console.print(f"  signing key fingerprint     {party_card.signing_key_fingerprint}")
    console.print(f"  TLS certificate fingerprint {party_card.tls_certificate_fingerprint}")
    removed = sorted(document.agreement.unverified_signatures)
    if removed:
        console.print(
            f"[yellow]Removed {len(removed)} signature(s) ({', '.join(removed)}): the content "
            "changed, so every party must sign again.[/]"
        )
    console.print(f"New digest: {updated.agreement.digest}")
    console.print(
        "Confirm both fingerprints with the party over another channel before signing.",
        markup=False,
    )


@app.command()
def sign(
    file: _File,
    party: Annotated[Path, typer.Option("--party", metavar="DIR", help="Your party directory.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Sign without asking (after reviewing the summary).")
    ] = False,
) -> None:
    """Show the agreement, then sign its digest as the party in DIR."""
    document = AgreementDocument.load(file)
    agreement = document.agreement
    identity = open_party(party)
    listed = agreement.party(identity.name)
    held = identity.card.tls_certificate_fingerprint
    if listed.tls_certificate_fingerprint != held:
        raise KeyMaterialError(
            f"{file} lists TLS certificate {listed.tls_certificate_fingerprint[:16]}... for "
            f"{identity.name!r}, but {party} holds {held[:16]}...",
            hint="Sign with the party directory whose card was added to the agreement.",
        )
    console = make_console()
    _print_summary(console, agreement)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "not signing without confirmation",
                hint="Review the summary above, then run the command again with --yes.",
            )
        if not typer.confirm(f"Sign this agreement as {identity.name}?", default=False):
            raise typer.Exit(1)
    signature = sign_agreement(agreement, identity.signing_key, party=identity.name)
    updated = document.with_signature(identity.name, signature)
    updated.save(file)
    states = signature_states(updated.agreement)
    missing = [name for name, state in states.items() if state is not SignatureState.VALID]
    console.print(f"Signed {escape(str(file))} as [bold]{identity.name}[/].")
    if missing:
        console.print(f"Still to sign or fix: {', '.join(missing)}")
    else:
        console.print("[green]Every party has signed: the agreement is in force.[/]")


@app.command()
def verify(file: _File) -> None:
    """Check that every party signed the agreement; exit 1 with the reason if not."""
    signed = load_signed_agreement(file)
    console = make_console()
    console.print(
        f"[green]OK[/]: {escape(str(file))} is signed by all {len(signed.parties)} parties "
        f"({', '.join(party.name for party in signed.parties)})"
    )
    console.print(f"Digest: {signed.digest}")
    _print_warnings(console, signed.agreement)


@app.command()
def show(
    file: _File,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the canonical content and status as JSON.")
    ] = False,
) -> None:
    """Show the agreement: parties, enclave policy, approvals, outputs, digest, signatures."""
    agreement = load_agreement(file)
    if as_json:
        states = signature_states(agreement)
        report: dict[str, Any] = {
            "file": str(file),
            "digest": agreement.digest,
            "content": canonical_form(agreement),
            "signatures": {name: state.value for name, state in states.items()},
            "in_force": _in_force(agreement, states),
            "warnings": agreement.enclave.warnings(),
        }
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
        return
    _print_summary(make_console(), agreement)


def _in_force(agreement: Agreement, states: dict[str, SignatureState]) -> bool:
    return bool(agreement.parties) and all(
        state is SignatureState.VALID for state in states.values()
    )


def _print_warnings(console: Console, agreement: Agreement) -> None:
    for warning in agreement.enclave.warnings():
        console.print(f"[bold red]WARNING: {escape(warning)}[/]")


def _names(names: frozenset[str]) -> str:
    return ", ".join(sorted(names)) or "nobody"


def _print_summary(console: Console, agreement: Agreement) -> None:
    console.print(f"[bold]Agreement {escape(agreement.name)}[/]  ({escape(agreement.source)})")
    if agreement.description:
        console.print(escape(agreement.description))
    console.print(f"created {format_time(agreement.created)}")
    console.print(f"digest  [bold]{agreement.digest}[/]")

    states = signature_states(agreement)
    parties = Table(title="Parties", title_justify="left")
    parties.add_column("name")
    parties.add_column("fingerprints (SHA-256)", no_wrap=True)
    parties.add_column("contact")
    parties.add_column("signature")
    for party in agreement.parties:
        state = states[party.name]
        parties.add_row(
            party.name,
            f"signing key {party.signing_key_fingerprint}\n"
            f"TLS cert    {party.tls_certificate_fingerprint}",
            escape(party.contact or ""),
            f"[{_STATE_STYLE[state]}]{state.value}[/]",
        )
    for name, state in states.items():
        if state is SignatureState.NOT_A_PARTY:
            parties.add_row(escape(name), "", "", f"[bold red]{state.value}[/]")
    console.print(parties if agreement.parties else "[yellow]No parties yet.[/]")

    enclave = Table(title="Enclave policy", title_justify="left")
    for column in ("backend", "measurements", "signer", "debug", "min security version"):
        enclave.add_column(column)
    for policy in agreement.enclave.backends.values():
        enclave.add_row(
            policy.backend,
            "\n".join(sorted(policy.measurements)),
            policy.signer or "any",
            "[bold red]allowed[/]" if policy.allow_debug else "refused",
            str(policy.min_security_version),
        )
    console.print(enclave)
    console.print(f"evidence older than {agreement.enclave.max_evidence_age_seconds} s is refused")
    _print_warnings(console, agreement)

    approvals = Table(title="Approvals", title_justify="left")
    approvals.add_column("operation")
    approvals.add_column("needs")
    approvals.add_row("(default)", agreement.approvals.default.describe())
    for operation in OPERATIONS:
        if operation in agreement.approvals.operations:
            approvals.add_row(operation, agreement.rule_for(operation).describe())
    console.print(approvals)

    outputs = agreement.outputs
    console.print("[bold]Outputs[/]")
    console.print(f"  trained models may go to  {_names(outputs.models)}")
    console.print(f"  metrics go to             {_names(outputs.metrics)}")
    console.print(f"  feature importance goes to {_names(outputs.feature_importance)}")
    for owner in agreement.party_names:
        recipients = _names(outputs.prediction_recipients(owner))
        console.print(f"  predictions on {owner}'s data go to {recipients}")

    signed = sum(state is SignatureState.VALID for state in states.values())
    status = "[green]in force[/]" if _in_force(agreement, states) else "[yellow]not in force[/]"
    console.print(f"Signatures: {signed} of {len(agreement.parties)} parties; {status}")
