"""Approval rules: unanimous, all-of, k-of-n; strangers count for nothing; explanations."""

from __future__ import annotations

import pytest
from agreement_helpers import BASE, parse

from accord.agreement import OPERATIONS, ApprovalPolicy, ApprovalRule
from accord.errors import ApprovalError, UsageError

EVERYONE = frozenset({"alice", "bob", "carol"})


def test_unanimous_rule_needs_every_party() -> None:
    rule = ApprovalRule.unanimous(EVERYONE)
    assert rule.is_unanimous
    assert rule.is_satisfied_by(["alice", "bob", "carol"])
    assert not rule.is_satisfied_by(["alice", "bob"])
    assert rule.explain(["alice", "bob"]) == (
        "needs all of alice, bob, carol; has alice, bob; missing carol"
    )


def test_all_of_rule_needs_the_named_parties_only() -> None:
    rule = parse(BASE).rule_for("predict")
    assert rule.describe() == "all of alice"
    assert rule.is_satisfied_by(["alice"])
    assert rule.is_satisfied_by(["alice", "carol"])
    assert not rule.is_satisfied_by(["bob", "carol"])


def test_k_of_n_rule_counts_distinct_parties() -> None:
    rule = parse(BASE).rule_for("train")
    assert rule.describe() == "2 of alice, bob, carol"
    assert rule.is_satisfied_by(["alice", "carol"])
    assert not rule.is_satisfied_by(["alice", "alice"])
    assert rule.explain(["alice"]) == "needs 2 of alice, bob, carol; has alice"


def test_approvals_of_strangers_count_for_nothing() -> None:
    rule = ApprovalRule(2, frozenset({"alice", "bob"}))
    assert not rule.is_satisfied_by(["alice", "mallory", "eve"])
    assert rule.counted(["alice", "mallory"]) == {"alice"}
    assert rule.explain(["mallory"]) == "needs all of alice, bob; has nobody; missing alice, bob"


def test_require_raises_approval_error_naming_operation_and_missing_parties() -> None:
    rule = parse(BASE).rule_for("load")
    rule.require(["alice", "bob", "carol"], operation="load")
    with pytest.raises(ApprovalError, match=r"operation 'load' needs all of .* missing bob, carol"):
        rule.require(["alice", "mallory"], operation="load")


@pytest.mark.parametrize(("threshold", "among"), [(0, EVERYONE), (4, EVERYONE), (1, frozenset())])
def test_impossible_rules_are_refused(threshold: int, among: frozenset[str]) -> None:
    with pytest.raises(UsageError, match="needs between"):
        ApprovalRule(threshold, among)


def test_the_rule_of_an_agreement_without_parties_is_never_satisfied() -> None:
    rule = ApprovalRule.unanimous([])
    assert not rule.is_satisfied_by([])
    assert not rule.is_satisfied_by(["alice"])
    with pytest.raises(ApprovalError):
        rule.require([], operation="echo")


def test_rule_for_uses_the_default_for_operations_without_a_rule() -> None:
    default = ApprovalRule.unanimous(EVERYONE)
    policy = ApprovalPolicy(default, {"train": ApprovalRule(1, EVERYONE), "load": default})
    assert policy.rule_for("train").threshold == 1
    assert policy.rule_for("evaluate") == default
    assert set(policy.operations) == {"train"}  # a rule equal to the default is dropped


def test_unknown_operations_are_refused() -> None:
    policy = parse(BASE).approvals
    with pytest.raises(UsageError, match="unknown operation 'launch_missiles'"):
        policy.rule_for("launch_missiles")
    with pytest.raises(UsageError, match="unknown operation 'trian'"):
        ApprovalPolicy(ApprovalRule.unanimous(EVERYONE), {"trian": ApprovalRule(1, EVERYONE)})


def test_every_operation_has_a_rule() -> None:
    agreement = parse(BASE)
    assert {op: agreement.rule_for(op).threshold for op in OPERATIONS} == {
        "echo": 1,
        "evaluate": 3,
        "feature_importance": 3,
        "load": 3,
        "load_model": 3,
        "predict": 1,
        "release_model": 3,
        "save_model": 3,
        "train": 2,
    }
