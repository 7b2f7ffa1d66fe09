"""Approval rules: which parties must sign a command before an enclave runs it.

An agreement gives every operation a rule. Each rule, however it is written in the TOML
file, is held in one normal form: a *threshold* ``k`` and the set of parties it counts
(``among``). ``"all"`` is ``k = n`` among every party, ``{all_of = [...]}`` is ``k = len``
among the named parties, and ``{k_of_n = k, among = [...]}`` is itself. Approvals by
anyone outside ``among`` (another party or a stranger) count for nothing.

Evaluation comes in two shapes: :meth:`ApprovalRule.is_satisfied_by` answers yes or no,
and :meth:`ApprovalRule.require` raises :class:`~accord.errors.ApprovalError` with an
explanation that names the missing parties.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from accord.errors import ApprovalError, UsageError

__all__ = ["OPERATIONS", "ApprovalPolicy", "ApprovalRule"]

OPERATIONS: Final[tuple[str, ...]] = (
    "echo",
    "evaluate",
    "feature_importance",
    "load",
    "load_model",
    "predict",
    "release_model",
    "save_model",
    "train",
)
"""Every operation an agreement may give a rule for (``echo`` is a no-op for tests)."""


def _names(parties: Iterable[str]) -> str:
    return ", ".join(sorted(parties)) or "nobody"


@dataclass(frozen=True)
class ApprovalRule:
    """A threshold of approvals among a set of parties.

    Parameters
    ----------
    threshold
        How many distinct parties of ``among`` must approve (``k``).
    among
        The parties whose approvals count (``n = len(among)``).

    Raises
    ------
    UsageError
        If ``threshold`` is not between 1 and ``len(among)``. The one exception is the
        rule of an agreement that lists no parties yet (``threshold == 0`` and ``among``
        empty): it is never satisfied.
    """

    threshold: int
    among: frozenset[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "among", frozenset(self.among))
        empty = self.threshold == 0 and not self.among
        if not empty and not 1 <= self.threshold <= len(self.among):
            raise UsageError(
                f"an approval rule needs between 1 and {len(self.among)} approvals among "
                f"{_names(self.among)}, not {self.threshold}"
            )

    @classmethod
    def unanimous(cls, parties: Iterable[str]) -> ApprovalRule:
        """Return the rule that needs every one of ``parties``."""
        among = frozenset(parties)
        return cls(len(among), among)

    @property
    def is_unanimous(self) -> bool:
        """Whether every party in ``among`` must approve."""
        return self.threshold == len(self.among)

    def counted(self, approvers: Iterable[str]) -> frozenset[str]:
        """Return the approvers that count for this rule (those in ``among``)."""
        return frozenset(approvers) & self.among

    def is_satisfied_by(self, approvers: Iterable[str]) -> bool:
        """Whether ``approvers`` (party names, duplicates ignored) meet the rule.

        Parameters
        ----------
        approvers
            Names of the parties whose valid approvals were received. Names outside
            ``among`` count for nothing.

        Returns
        -------
        bool
            True when at least ``threshold`` distinct parties of ``among`` approved.
        """
        return bool(self.among) and len(self.counted(approvers)) >= self.threshold

    def describe(self) -> str:
        """Return the rule in words, e.g. ``"2 of alice, bob, carol"``."""
        if not self.among:
            return "nobody (the agreement lists no parties)"
        if self.is_unanimous:
            return f"all of {_names(self.among)}"
        return f"{self.threshold} of {_names(self.among)}"

    def explain(self, approvers: Iterable[str]) -> str:
        """Say what the rule needs and which approvals it has.

        Returns
        -------
        str
            For example ``"needs 2 of alice, bob, carol; has alice"``, or for a unanimous
            rule ``"needs all of alice, bob; has alice; missing bob"``.
        """
        have = self.counted(approvers)
        text = f"needs {self.describe()}; has {_names(have)}"
        if self.is_unanimous and self.among - have:
            text += f"; missing {_names(self.among - have)}"
        return text

    def require(self, approvers: Iterable[str], *, operation: str) -> None:
        """Raise unless ``approvers`` meet the rule.

        Raises
        ------
        ApprovalError
            Naming the operation, what the rule needs and what it has.
        """
        approvers = frozenset(approvers)
        if not self.is_satisfied_by(approvers):
            raise ApprovalError(f"operation '{operation}' {self.explain(approvers)}")

    def to_canonical(self) -> dict[str, object]:
        """Return the rule's canonical form: ``{"among": [sorted names], "threshold": k}``."""
        return {"among": sorted(self.among), "threshold": self.threshold}


@dataclass(frozen=True)
class ApprovalPolicy:
    """The rule of every operation: explicit rules per operation, a default for the rest.

    Parameters
    ----------
    default
        The rule of operations without a rule of their own.
    operations
        Rules for particular operations; a rule equal to ``default`` is dropped, since it
        means the same thing.

    Raises
    ------
    UsageError
        If ``operations`` names an operation not in :data:`OPERATIONS`.
    """

    default: ApprovalRule
    operations: Mapping[str, ApprovalRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.operations) - set(OPERATIONS))
        if unknown:
            raise UsageError(f"unknown operation {unknown[0]!r}; known: {', '.join(OPERATIONS)}")
        kept = {
            name: rule for name, rule in sorted(self.operations.items()) if rule != self.default
        }
        object.__setattr__(self, "operations", types.MappingProxyType(kept))

    def rule_for(self, operation: str) -> ApprovalRule:
        """Return the rule that ``operation`` must satisfy.

        Raises
        ------
        UsageError
            If ``operation`` is not one of :data:`OPERATIONS`.
        """
        if operation not in OPERATIONS:
            raise UsageError(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
        return self.operations.get(operation, self.default)

    def to_canonical(self) -> dict[str, object]:
        """Return the canonical form: the default and the operations that differ from it."""
        return {
            "default": self.default.to_canonical(),
            "operations": {name: rule.to_canonical() for name, rule in self.operations.items()},
        }
