"""Judging the platform: Intel's collateral release (SGX, TDX), SEV-SNP reported TCB and VMPL.

- Collateral replay: Intel's collateral from before a TCB re-evaluation stays validly signed
  until it expires. An agreement's ``min_tcb_evaluation_data_number`` refuses it. The real
  vectors' collateral is release 17: requiring 18 refuses them, 17 accepts them.
- SEV-SNP: ``min_tcb`` judges each component of the REPORTED_TCB (Genoa vector: bootloader
  10, TEE 0, SNP 23, microcode 84; Milan vector: 2, 0, 5, 68) and ``vmpl`` the privilege
  level the report was requested at (0 unless the agreement says otherwise; a report
  from VMPL 2 is made and signed under a test root to show the refusal end to end).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from attest_helpers import make_session_keys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hardware_vectors import (
    OUTDATED_COLLATERAL,
    SGX_AT,
    SGX_COLLATERAL,
    SGX_MRENCLAVE,
    SGX_QUOTE,
    TDX_AT,
    TDX_COLLATERAL,
    TDX_MRTD,
    TDX_QUOTE,
    collateral,
    collateral_with,
)
from test_hardware_policy import KEY, agreement_text, enclave, refused_at
from test_sev_snp_synthetic import CHIP, MILAN_REPORT, Chain, name, table

from accord.agreement import AgreementDocument, parse_agreement, sign_agreement
from accord.agreement.attestation import agreement_verifier, attestation_policy
from accord.agreement.model import BackendPolicy
from accord.agreement.signing import SignedAgreement
from accord.attest import SnpTcbAtLeast, SnpTcbMinimum, TcbEvaluationAtLeast, VmplIs
from accord.attest.backends import SgxDcapVerifier, TdxVerifier
from accord.attest.backends.configfs_tsm import ConfigfsTsmCapture
from accord.attest.backends.sev_snp import SevSnpVerifier, evidence_from_report
from accord.attest.offline import verify_offline
from accord.errors import UsageError, VerificationError

SNP_DATA = Path(__file__).parent / "data" / "sev-snp"
GENOA = ConfigfsTsmCapture.from_json((SNP_DATA / "genoa-configfs-tsm-report.json").read_bytes())
SNP_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MILAN_AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
MILAN_VCEK = (SNP_DATA / "milan-vcek.der").read_bytes()
GENOA_MEASUREMENT = (
    "7699e6ac12ccdfd1dfac70e649ce1f046cb2afbb003438f4cdddfe2ccbe182fa"
    "5ffbe8dcdb930454324e10c52c788980"
)
MILAN_MEASUREMENT = (
    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b"
    "6bdf8a9ece31a5a608eb0cf2e4872b01"
)
ADVISORIES = 'allowed_advisories = ["INTEL-SA-00289", "INTEL-SA-00615"]\n'

SGX_CLAIMS = SgxDcapVerifier(collateral=collateral()).verify_raw(
    SGX_QUOTE.read_bytes(), aux=b"", at=SGX_AT
)
TDX_CLAIMS = TdxVerifier(collateral=collateral(TDX_COLLATERAL)).verify_raw(
    TDX_QUOTE.read_bytes(), aux=b"", at=TDX_AT
)
GENOA_CLAIMS = SevSnpVerifier().verify_raw(GENOA.outblob, aux=GENOA.auxblob, at=SNP_AT)
MILAN_CLAIMS = SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(MILAN_REPORT, aux=b"", at=MILAN_AT)


def with_extras(claims, **changes):
    return dataclasses.replace(claims, extras={**claims.extras, **changes})


# F3: TCB evaluation data number (collateral replay).


@pytest.mark.parametrize("claims", [SGX_CLAIMS, TDX_CLAIMS], ids=["sgx", "tdx"])
def test_the_vectors_report_the_evaluation_numbers_of_their_signed_collateral(claims):
    assert claims.extras["tcb_evaluation_data_number"] == "17"
    assert claims.extras["qe_identity_tcb_evaluation_data_number"] == "17"


def test_the_outdated_vectors_collateral_is_release_18():
    parsed = collateral(OUTDATED_COLLATERAL)
    assert parsed.tcb_evaluation_data_number == parsed.qe_identity_tcb_evaluation_data_number == 18


def test_requiring_release_18_refuses_the_sgx_vector_and_17_accepts_it():
    strict = enclave(
        "sgx-dcap", SGX_MRENCLAVE, ADVISORIES + "min_tcb_evaluation_data_number = 18\n"
    )
    with pytest.raises(VerificationError) as caught:
        attestation_policy(strict).verify(SGX_CLAIMS)
    assert caught.value.message.startswith(
        "the collateral's TCB info has TCB evaluation data number 17, below the minimum 18 "
        "the policy requires"
    )
    exact = enclave("sgx-dcap", SGX_MRENCLAVE, ADVISORIES + "min_tcb_evaluation_data_number = 17\n")
    attestation_policy(exact).verify(SGX_CLAIMS)


def test_requiring_release_18_refuses_the_tdx_vector_offline_and_17_accepts_it():
    raw = TDX_QUOTE.read_bytes()
    strict = enclave("tdx", TDX_MRTD, "min_tcb_evaluation_data_number = 18\n")
    with pytest.raises(VerificationError, match="TCB evaluation data number 17, below the min"):
        verify_offline(
            raw,
            at=TDX_AT,
            kind="tdx",
            collateral=collateral(TDX_COLLATERAL),
            policy=attestation_policy(strict),
        )
    exact = enclave("tdx", TDX_MRTD, "min_tcb_evaluation_data_number = 17\n")
    result = verify_offline(
        raw, at=TDX_AT, kind="tdx", collateral=collateral(TDX_COLLATERAL),
        policy=attestation_policy(exact),
    )  # fmt: skip
    assert result.claims.extras["tcb_evaluation_data_number"] == "17"


def test_an_older_qe_identity_is_refused_even_with_current_tcb_info():
    replayed = with_extras(TDX_CLAIMS, tcb_evaluation_data_number="18")
    with pytest.raises(VerificationError, match="QE identity has TCB evaluation data number 17"):
        TcbEvaluationAtLeast(18).verify(replayed)
    TcbEvaluationAtLeast(17).verify(replayed)


@pytest.mark.parametrize(
    ("member", "check"), [("tcb_info", "TCB info signature"), ("qe_identity", "QE identity")]
)
def test_a_host_cannot_raise_the_number_without_breaking_intels_signature(member, check):
    forged = collateral_with(
        SGX_COLLATERAL,
        member,
        lambda text: text.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18'),
    )
    number = (
        forged.tcb_evaluation_data_number
        if member == "tcb_info"
        else forged.qe_identity_tcb_evaluation_data_number
    )
    assert number == 18
    with pytest.raises(VerificationError, match=f"at the {check}"):
        SgxDcapVerifier(collateral=forged).verify_raw(SGX_QUOTE.read_bytes(), aux=b"", at=SGX_AT)


def test_collateral_without_an_evaluation_number_is_refused_when_read():
    with pytest.raises(VerificationError, match="tcb_info has no tcbEvaluationDataNumber"):
        collateral_with(
            SGX_COLLATERAL,
            "tcb_info",
            lambda text: text.replace(
                '"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":"x"'
            ),
        )


def test_the_rule_refuses_claims_without_evaluation_numbers():
    with pytest.raises(VerificationError, match="sev-snp evidence carries no TCB info TCB eval"):
        TcbEvaluationAtLeast(1).verify(GENOA_CLAIMS)


@pytest.mark.parametrize("minimum", [-1, 2**32, True, "17"])
def test_the_rule_refuses_a_minimum_out_of_range(minimum):
    with pytest.raises(UsageError, match="TCB evaluation data number must be an integer"):
        TcbEvaluationAtLeast(minimum)


# F4: SEV-SNP reported TCB.


def test_the_snp_vectors_report_their_tcb_and_vmpl():
    genoa = {k: GENOA_CLAIMS.extras[f"reported_tcb_{k}"] for k in ("bootloader", "tee", "snp")}
    assert genoa == {"bootloader": "10", "tee": "0", "snp": "23"}
    assert GENOA_CLAIMS.extras["reported_tcb_microcode"] == "84"
    assert MILAN_CLAIMS.extras["reported_tcb_snp"] == "5"
    assert GENOA_CLAIMS.extras["vmpl"] == MILAN_CLAIMS.extras["vmpl"] == "0"


def test_the_genoa_tcb_meets_its_own_levels_and_fails_one_above():
    SnpTcbAtLeast(SnpTcbMinimum(bootloader=10, tee=0, snp=23, microcode=84)).verify(GENOA_CLAIMS)
    with pytest.raises(VerificationError) as caught:
        SnpTcbAtLeast(SnpTcbMinimum(snp=23, microcode=85)).verify(GENOA_CLAIMS)
    assert caught.value.message == (
        "the SEV-SNP platform's reported TCB has microcode level 84, below the minimum 85 the "
        "policy requires (snp >= 23, microcode >= 85)"
    )


def test_the_milan_tcb_is_below_the_genoa_snp_level():
    with pytest.raises(VerificationError, match="has snp level 5, below the minimum 23"):
        SnpTcbAtLeast(SnpTcbMinimum(snp=23)).verify(MILAN_CLAIMS)
    SnpTcbAtLeast(SnpTcbMinimum(bootloader=2, snp=5)).verify(MILAN_CLAIMS)


def test_the_snp_rules_refuse_claims_of_other_backends():
    with pytest.raises(VerificationError, match="tdx evidence carries no SEV-SNP reported TCB"):
        SnpTcbAtLeast(SnpTcbMinimum(snp=1)).verify(TDX_CLAIMS)
    with pytest.raises(VerificationError, match="sgx-dcap evidence carries no SEV-SNP VMPL"):
        VmplIs(0).verify(SGX_CLAIMS)


@pytest.mark.parametrize(
    "levels", [{}, {"snp": 256}, {"tee": -1}, {"microcode": True}, {"bootloader": "1"}]
)
def test_an_snp_minimum_must_name_levels_from_0_to_255(levels):
    with pytest.raises(UsageError):
        SnpTcbMinimum(**levels)


def test_agreement_min_tcb_accepts_genoa_at_its_levels_and_refuses_it_above():
    at_level = enclave("sev-snp", GENOA_MEASUREMENT, "min_tcb = { snp = 23, microcode = 84 }\n")
    assert at_level.for_backend("sev-snp").min_tcb == SnpTcbMinimum(snp=23, microcode=84)
    attestation_policy(at_level).verify(GENOA_CLAIMS)
    above = enclave("sev-snp", GENOA_MEASUREMENT, "[enclave.sev-snp.min_tcb]\nbootloader = 11\n")
    with pytest.raises(VerificationError, match="bootloader level 10, below the minimum 11"):
        attestation_policy(above).verify(GENOA_CLAIMS)


def test_accord_attest_verify_with_the_baseline_accepts_genoa_at_vmpl_0():
    result = verify_offline(GENOA.outblob, at=SNP_AT, kind="sev-snp", aux=GENOA.auxblob)
    assert result.claims.extras["vmpl"] == "0"


# F4: VMPL.


def test_agreements_require_vmpl_0_by_default_and_accept_the_vectors():
    policy = enclave("sev-snp", GENOA_MEASUREMENT)
    assert policy.for_backend("sev-snp").vmpl == 0
    attestation_policy(policy).verify(GENOA_CLAIMS)
    with pytest.raises(
        VerificationError, match="requested at VMPL 0, but the policy requires VMPL 1"
    ):
        attestation_policy(enclave("sev-snp", GENOA_MEASUREMENT, "vmpl = 1\n")).verify(GENOA_CLAIMS)


@pytest.fixture(scope="module")
def test_root() -> Chain:
    return Chain(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
        name("ARK-Testa"),
        name("SEV-Testa"),
    )


def report_at_vmpl(chain: Chain, vmpl: int, report_data: bytes) -> bytes:
    """The Milan report at ``vmpl``, not debug, for the test chip and data, signed by the VCEK."""
    raw = bytearray(MILAN_REPORT)
    raw[0x08:0x10] = (int.from_bytes(raw[0x08:0x10], "little") & ~(1 << 19)).to_bytes(8, "little")
    raw[0x30:0x34] = vmpl.to_bytes(4, "little")
    raw[0x50:0x90] = report_data
    raw[0x1A0:0x1E0] = CHIP
    signature = chain.vcek_key.sign(bytes(raw[:0x2A0]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(signature)
    raw[0x2A0:0x2E8] = r.to_bytes(72, "little")
    raw[0x2E8:0x330] = s.to_bytes(72, "little")
    return bytes(raw)


def signed_snp_agreement(extra: str = "") -> SignedAgreement:
    text = agreement_text("sev-snp", MILAN_MEASUREMENT, extra)
    document = AgreementDocument.parse(text, source="a.toml")
    document = document.with_signature(
        "alice", sign_agreement(document.agreement, KEY, party="alice")
    )
    return document.agreement.verify_signatures()


def test_a_report_from_vmpl_2_is_refused_end_to_end_unless_the_agreement_says_vmpl_2(
    test_root, nonce
):
    verifiers = {"sev-snp": SevSnpVerifier(roots=[test_root.root()])}
    aux = table(vcek=test_root.vcek())
    for extra, accepted in (("", False), ("vmpl = 2\n", True)):
        agreement = signed_snp_agreement(extra)
        keys = make_session_keys(agreement=agreement.digest)
        raw = report_at_vmpl(test_root, 2, keys.report_data(nonce))
        evidence = evidence_from_report(raw, aux=aux, issued_at=MILAN_AT)
        verifier = agreement_verifier(agreement, backends=verifiers, now=lambda: MILAN_AT)
        if accepted:
            verified = verifier.verify(evidence, nonce=nonce, expected=keys)
            assert verified.claims.extras["vmpl"] == "2"
        else:
            with pytest.raises(VerificationError) as caught:
                verifier.verify(evidence, nonce=nonce, expected=keys)
            assert caught.value.message.startswith(
                "the SEV-SNP report was requested at VMPL 2, but the policy requires VMPL 0"
            )


def test_the_baseline_policy_refuses_a_report_from_vmpl_1(test_root, monkeypatch):
    raw = report_at_vmpl(test_root, 1, bytes(64))
    monkeypatch.setattr(
        "accord.attest.offline.default_backend_verifiers",
        lambda collateral=None: {"sev-snp": SevSnpVerifier(roots=[test_root.root()])},
    )
    with pytest.raises(VerificationError, match="requested at VMPL 1, but the policy requires"):
        verify_offline(raw, at=MILAN_AT, kind="sev-snp", aux=table(vcek=test_root.vcek()))


# The agreement fields: misuse, line numbers, digest.


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("vmpl = 4\n", "'vmpl' in [enclave.sev-snp] must be between 0 and 3, not 4"),
        ("vmpl = -1\n", "must be between 0 and 3"),
        ('vmpl = "0"\n', "must be an integer"),
        ("min_tcb = 5\n", "must be a table"),
        ("min_tcb = {}\n", "min_tcb is empty"),
        ("min_tcb = { snp = 256 }\n", "must be between 0 and 255, not 256"),
        ("min_tcb = { ucode = 1 }\n", "unknown key 'ucode'"),
        ('min_tcb = { snp = "23" }\n', "must be an integer"),
    ],
)
def test_malformed_snp_fields_are_refused_with_their_line(extra, problem):
    message = refused_at(extra, backend="sev-snp", measurement=GENOA_MEASUREMENT)
    assert problem in message


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("min_tcb_evaluation_data_number = -1\n", "must be between 0 and 4294967295, not -1"),
        ("min_tcb_evaluation_data_number = 4294967296\n", "must be between 0 and 4294967295"),
        ('min_tcb_evaluation_data_number = "17"\n', "must be an integer"),
    ],
)
def test_malformed_evaluation_numbers_are_refused_with_their_line(extra, problem):
    assert problem in refused_at(extra)


@pytest.mark.parametrize(
    ("extra", "backend", "applies"),
    [
        ("vmpl = 0\n", "sgx-dcap", "sev-snp"),
        ("min_tcb = { snp = 1 }\n", "tdx", "sev-snp"),
        ("vmpl = 1\n", "simulated", "sev-snp"),
        ("min_tcb_evaluation_data_number = 17\n", "sev-snp", "sgx-dcap and tdx"),
        ("min_tcb_evaluation_data_number = 17\n", "simulated", "sgx-dcap and tdx"),
    ],
)
def test_platform_fields_on_another_backend_are_refused_with_their_line(extra, backend, applies):
    measurement = "ab" * (48 if backend in ("sev-snp", "tdx") else 32)
    message = refused_at(extra, backend=backend, measurement=measurement)
    assert f"in [enclave.{backend}] applies only to {applies} evidence; remove it" in message


def test_backend_policies_built_in_code_are_checked_too():
    with pytest.raises(UsageError, match="min_tcb and vmpl apply to sev-snp evidence, not tdx"):
        BackendPolicy("tdx", frozenset({"ab" * 48}), vmpl=0)
    with pytest.raises(UsageError, match="evaluation data number applies to sgx-dcap and tdx"):
        BackendPolicy("sev-snp", frozenset({"ab" * 48}), min_tcb_evaluation_data_number=17)
    with pytest.raises(UsageError, match="the required VMPL must be an integer from 0 to 3"):
        BackendPolicy("sev-snp", frozenset({"ab" * 48}), vmpl=7)
    with pytest.raises(UsageError, match="needs an SnpTcbMinimum"):
        BackendPolicy("sev-snp", frozenset({"ab" * 48}), min_tcb={"snp": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("backend", "measurement", "default_spelled_out"),
    [
        ("sev-snp", GENOA_MEASUREMENT, "vmpl = 0\n"),
        ("tdx", TDX_MRTD, ""),
        ("sgx-dcap", SGX_MRENCLAVE, ""),
    ],
)
def test_existing_agreements_keep_their_digest(backend, measurement, default_spelled_out):
    plain = parse_agreement(agreement_text(backend, measurement), source="a.toml")
    assert plain.enclave.for_backend(backend).canonical_extras() == {}
    text = agreement_text(backend, measurement, default_spelled_out)
    spelled = parse_agreement(text, source="a.toml")
    assert spelled.digest == plain.digest


@pytest.mark.parametrize(
    ("backend", "measurement", "extra", "member"),
    [
        ("sev-snp", GENOA_MEASUREMENT, "vmpl = 2\n", {"vmpl": 2}),
        (
            "sev-snp",
            GENOA_MEASUREMENT,
            "min_tcb = { microcode = 84, snp = 23 }\n",
            {"min_tcb": {"snp": 23, "microcode": 84}},
        ),
        ("tdx", TDX_MRTD, "min_tcb_evaluation_data_number = 17\n", None),
        ("sgx-dcap", SGX_MRENCLAVE, "min_tcb_evaluation_data_number = 0\n", None),
    ],
)
def test_the_new_fields_are_covered_by_the_digest_when_set(backend, measurement, extra, member):
    plain = parse_agreement(agreement_text(backend, measurement), source="a.toml")
    stricter = parse_agreement(agreement_text(backend, measurement, extra), source="a.toml")
    assert stricter.digest != plain.digest
    extras = stricter.enclave.for_backend(backend).canonical_extras()
    if member is None:
        number = int(extra.split("=")[1])
        member = {"min_tcb_evaluation_data_number": number}
    assert extras == member
