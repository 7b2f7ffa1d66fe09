"""The public surface of accord.attest: a curated __all__, every name documented."""

from __future__ import annotations

import importlib
import inspect

import pytest

import accord.attest
import accord.attest.backends

EXPECTED = {
    "BACKENDS",
    "AccordSecurityWarning",
    "AdvisoriesAllowed",
    "AllOf",
    "AllowDebugEnclaves",
    "AnyOf",
    "BackendIn",
    "BackendVerifier",
    "Claims",
    "CodeMeasurement",
    "DebugForbidden",
    "Evidence",
    "FreshWithin",
    "MeasurementIn",
    "MinSecurityVersion",
    "Policy",
    "Quoter",
    "ReportDataMatches",
    "ReportParser",
    "RtmrsIn",
    "SessionPublicKeys",
    "SignerIs",
    "SnpTcbAtLeast",
    "SnpTcbMinimum",
    "TcbEvaluationAtLeast",
    "TcbStatusAtLeast",
    "VerifiedEvidence",
    "Verifier",
    "VmplIs",
    "measure_installed_package",
    "measure_tree",
}


def test_all_is_exactly_the_curated_list():
    assert set(accord.attest.__all__) == EXPECTED
    assert sorted(accord.attest.__all__) == sorted(set(accord.attest.__all__))


@pytest.mark.parametrize(
    "module",
    [
        "accord.attest",
        "accord.attest.backends",
        "accord.attest.backends.simulated",
        "accord.attest.backends.sgx_dcap",
        "accord.attest.backends.tdx",
        "accord.attest.backends.sev_snp",
        "accord.attest.backends.configfs_tsm",
        "accord.attest.backends.device_files",
        "accord.attest.backends.dcap",
        "accord.attest.backends.dcap_quote",
        "accord.attest.backends.dcap_verifier",
        "accord.attest.backends.snp_report",
        "accord.attest.backends.snp_certs",
        "accord.attest.backends.snp_cert_table",
        "accord.attest.ratls",
        "accord.attest.offline",
        "accord.attest.tcb",
        "accord.attest.claims",
        "accord.attest.combinators",
        "accord.attest.evidence",
        "accord.attest.insecure",
        "accord.attest.measurement",
        "accord.attest.policy",
        "accord.attest.hardware_policy",
        "accord.attest.quoter",
        "accord.attest.verifier",
    ],
)
def test_every_exported_name_exists_and_is_documented(module):
    mod = importlib.import_module(module)
    assert mod.__doc__
    for name in mod.__all__:
        value = getattr(mod, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module}.{name} has no docstring"


def test_the_security_warning_is_a_user_warning():
    assert issubclass(accord.attest.AccordSecurityWarning, UserWarning)
