"""Agreements built in code are held to the same consistency rules as parsed ones."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from agreement_helpers import BASE, MEASUREMENT, parse

from accord.agreement import ApprovalPolicy, ApprovalRule, BackendPolicy, EnclavePolicy
from accord.errors import UsageError


def test_a_rule_naming_a_stranger_is_refused() -> None:
    agreement = parse(BASE)
    rule = ApprovalRule(1, frozenset({"alice", "mallory"}))
    with pytest.raises(UsageError, match="name\\(s\\) mallory, who are not parties"):
        dataclasses.replace(agreement, approvals=ApprovalPolicy(rule))


def test_an_output_recipient_who_is_not_a_party_is_refused() -> None:
    agreement = parse(BASE)
    outputs = dataclasses.replace(agreement.outputs, models=frozenset({"eve"}))
    with pytest.raises(UsageError, match=r"model recipients .* eve"):
        dataclasses.replace(agreement, outputs=outputs)


def test_duplicate_parties_are_refused() -> None:
    agreement = parse(BASE)
    twin = dataclasses.replace(agreement.parties[1], name="zed")
    with pytest.raises(UsageError, match="same signing key"):
        dataclasses.replace(agreement, parties=(*agreement.parties, twin))


def test_a_creation_time_without_zone_is_refused() -> None:
    with pytest.raises(UsageError, match="time zone"):
        dataclasses.replace(parse(BASE), created=dt.datetime(2025, 1, 1))


def test_enclave_policies_must_accept_something_coherent() -> None:
    simulated = BackendPolicy("simulated", frozenset({MEASUREMENT}))
    sgx = BackendPolicy("sgx-dcap", frozenset({MEASUREMENT}))
    with pytest.raises(UsageError, match="at least one backend"):
        EnclavePolicy({})
    with pytest.raises(UsageError, match="together with hardware"):
        EnclavePolicy({"simulated": simulated, "sgx-dcap": sgx})
    with pytest.raises(UsageError, match="is for 'sgx-dcap'"):
        EnclavePolicy({"tdx": sgx})
    with pytest.raises(UsageError, match="at least one accepted measurement"):
        BackendPolicy("tdx", frozenset())
    with pytest.raises(UsageError, match="unknown attestation backend"):
        BackendPolicy("nitro", frozenset({MEASUREMENT}))
    with pytest.raises(UsageError, match="does not accept 'tdx' evidence; it accepts sgx-dcap"):
        EnclavePolicy({"sgx-dcap": sgx}).for_backend("tdx")
