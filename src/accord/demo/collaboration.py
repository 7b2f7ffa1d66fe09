"""The demo's agreement: drafted by the first party, reviewed and signed by every party.

The same steps a party takes with ``accord agreement init / add-party / sign`` on its own
machine, run here for every party in turn. The agreement accepts this release's simulated
enclaves (development only, and the demo says so), needs every party's approval for every
command, and sends predictions on a party's data to that party only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from accord.agreement import (
    AgreementDocument,
    SignedAgreement,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.attest import measure_installed_package
from accord.demo.narration import Narrator
from accord.party import PartyIdentity

__all__ = ["agree", "draft_and_sign_agreement"]


def draft_and_sign_agreement(
    name: str, parties: Sequence[PartyIdentity], path: Path
) -> SignedAgreement:
    """Write an agreement accepting this release's simulated enclave, signed by every party.

    Parameters
    ----------
    name
        The collaboration's name.
    parties
        The parties, each of which adds its card and signs the digest.
    path
        Where to write the agreement file.

    Returns
    -------
    SignedAgreement
        The agreement, verified to carry every party's signature.
    """
    measurement = measure_installed_package().digest
    text = render_template(
        name,
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        measurements={"simulated": [measurement]},
        description="Accord demo: a joint XGBoost model on the agaricus data (simulated enclaves).",
        file_name=path.name,
    )
    document = AgreementDocument.parse(text, source=str(path))
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    document.save(path)
    return verify_signatures(AgreementDocument.load(path).agreement)


def agree(parties: Sequence[PartyIdentity], work_dir: Path, narrator: Narrator) -> Path:
    """Draft the agreement, have every party sign it, show what they signed; return its path."""
    path = work_dir / "agreement.toml"
    agreement = draft_and_sign_agreement("agaricus-demo", parties, path)
    narrator.say(
        parties[0].name, f"drafts {path.name}; every party reviews it and signs its digest"
    )
    narrator.say("agreement", f"digest {agreement.digest}")
    table = Table("what", "the agreement says")
    table.add_row("parties", ", ".join(p.name for p in agreement.parties))
    for backend in sorted(agreement.enclave.backends):
        policy = agreement.enclave.for_backend(backend)
        for measurement in sorted(policy.measurements):
            table.add_row("enclave code", f"{backend} measurement {measurement[:24]}..")
    for operation in ("load", "train", "predict"):
        table.add_row(f"{operation} needs", agreement.rule_for(operation).describe())
    if not agreement.outputs.predictions:
        table.add_row("predictions", "on a party's data go to that party only")
    table.add_row("models go to", ", ".join(agreement.outputs.models) or "nobody")
    narrator.table(table)
    if agreement.enclave.allows_simulated:
        narrator.warn(
            "this agreement accepts SIMULATED enclaves: fine for a demo, no protection "
            "against the host; real data needs sgx-dcap, tdx or sev-snp"
        )
    return path
