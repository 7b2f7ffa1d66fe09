"""The platform fields of ``[enclave.<backend>]``: template, canonical form, digest, policy.

``min_tcb_evaluation_data_number`` (sgx-dcap, tdx), ``vmpl`` and ``min_tcb`` (sev-snp). The
template offers them as comments; uncommented they parse, reach the canonical form (and so
the digest) only when they differ from their defaults, and become policy rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from agreement_helpers import SOURCE

from accord.agreement import parse_agreement, render_template
from accord.agreement.attestation import attestation_policy
from accord.agreement.model import BackendPolicy
from accord.attest import Claims, SnpTcbMinimum
from accord.errors import ConfigurationError, VerificationError

CREATED = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
SNP = "ab" * 48
TDX = "cd" * 48
SGX = "ef" * 32


def template() -> str:
    return render_template(
        "Study", created=CREATED, measurements={"sev-snp": [SNP], "tdx": [TDX], "sgx-dcap": [SGX]}
    )


def uncomment(text: str, *prefixes: str) -> str:
    for prefix in prefixes:
        line = next(line for line in text.splitlines() if line.startswith(f"# {prefix}"))
        value = line[2:].split("   #")[0].split("  #")[0]
        text = text.replace(line, value, 1)
    return text


def snp_claims(vmpl: int = 0, snp: int = 23) -> Claims:
    return Claims(
        backend="sev-snp",
        measurement=SNP,
        signer=None,
        security_version=snp,
        debug=False,
        report_data=bytes(64),
        extras={
            "vmpl": str(vmpl),
            "reported_tcb_bootloader": "10",
            "reported_tcb_tee": "0",
            "reported_tcb_snp": str(snp),
            "reported_tcb_microcode": "84",
        },
    )


def test_the_template_offers_the_fields_as_comments_and_they_parse_uncommented():
    text = template()
    plain = parse_agreement(text, source=SOURCE)
    assert plain.enclave.for_backend("sev-snp").vmpl == 0
    assert plain.enclave.for_backend("sev-snp").min_tcb is None
    edited = uncomment(text, "vmpl", "min_tcb =", "min_tcb_evaluation_data_number")
    agreement = parse_agreement(edited, source=SOURCE)
    snp = agreement.enclave.for_backend("sev-snp")
    assert snp.min_tcb == SnpTcbMinimum(bootloader=10, tee=0, snp=23, microcode=84)
    assert agreement.enclave.for_backend("sgx-dcap").min_tcb_evaluation_data_number == 17
    assert agreement.enclave.for_backend("tdx").min_tcb_evaluation_data_number is None


def test_uncommenting_the_default_vmpl_keeps_the_digest():
    text = template()
    assert parse_agreement(uncomment(text, "vmpl"), source=SOURCE).digest == (
        parse_agreement(text, source=SOURCE).digest
    )


def test_the_canonical_form_carries_the_fields_that_are_set():
    text = template().replace(
        f'measurements = ["{SNP}"]\n',
        f'measurements = ["{SNP}"]\nvmpl = 1\nmin_tcb = {{ snp = 7 }}\n',
    )
    text = text.replace(
        f'measurements = ["{TDX}"]\n',
        f'measurements = ["{TDX}"]\nmin_tcb_evaluation_data_number = 18\n',
    )
    backends = json.loads(parse_agreement(text, source=SOURCE).canonical_bytes)["enclave"][
        "backends"
    ]
    assert backends["sev-snp"]["vmpl"] == 1
    assert backends["sev-snp"]["min_tcb"] == {"snp": 7}
    assert backends["tdx"]["min_tcb_evaluation_data_number"] == 18
    assert "min_tcb_evaluation_data_number" not in backends["sgx-dcap"]
    assert "vmpl" not in backends["tdx"]


def test_a_report_from_another_vmpl_is_refused_by_the_agreement_policy():
    enclave = parse_agreement(template(), source=SOURCE).enclave
    policy = attestation_policy(enclave)
    policy.verify(snp_claims())
    with pytest.raises(VerificationError, match="requested at VMPL 1, but the policy requires"):
        policy.verify(snp_claims(vmpl=1))


def test_min_tcb_in_the_agreement_judges_the_reported_tcb():
    text = template().replace(
        f'measurements = ["{SNP}"]\n', f'measurements = ["{SNP}"]\nmin_tcb = {{ snp = 24 }}\n'
    )
    policy = attestation_policy(parse_agreement(text, source=SOURCE).enclave)
    with pytest.raises(VerificationError, match="snp level 23, below the minimum 24"):
        policy.verify(snp_claims())
    policy.verify(snp_claims(snp=24))


def test_misplaced_fields_name_their_line():
    text = template().replace(
        f'measurements = ["{SGX}"]\n', f'measurements = ["{SGX}"]\nvmpl = 0\n'
    )
    line = text.splitlines().index("vmpl = 0") + 1
    with pytest.raises(ConfigurationError) as caught:
        parse_agreement(text, source=SOURCE)
    assert caught.value.message == (
        f"{SOURCE} line {line}: 'vmpl' in [enclave.sgx-dcap] applies only to sev-snp evidence; "
        "remove it"
    )


def test_backend_policies_stay_hashable_and_comparable():
    policy = BackendPolicy("sev-snp", frozenset({SNP}), min_tcb=SnpTcbMinimum(snp=1), vmpl=2)
    assert hash(policy) == hash(dataclasses.replace(policy))
    assert policy != dataclasses.replace(policy, vmpl=0)
