"""The demo's agreement: drafted by the first party, reviewed and signed by every party.

The same steps a party takes with ``accord agreement init / add-party / sign`` on its own
machine, run here for every party in turn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from accord.agreement import (
    AgreementDocument,
    SignedAgreement,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.attest import measure_installed_package
from accord.party import PartyIdentity

__all__ = ["draft_and_sign_agreement"]


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
        description="Accord demo: joint model on the agaricus data (simulated enclaves).",
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
